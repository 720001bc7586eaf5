/**
 * The page client of `fazt.realtime`, served by the node at `/_fazt/realtime.js` on every app's
 * origin (docs/realtime.md). A classic script, no build step:
 *
 *   <script src="_fazt/realtime.js"></script>
 *   <script>
 *     const stop = fazt.realtime.subscribe('list', (data, meta) => render(data), { onReset: reload });
 *   </script>
 *
 * One `EventSource` per page carries all its channels (`?channels=a,b`); subscribing to another
 * channel reopens it with `lastEventId`, so nothing published in between is lost. The browser's own
 * reconnection resumes with the `Last-Event-ID` header; when the node refuses (an HTTP error closes
 * an EventSource for good) the client tries again after 1, 2, 4 … 30 s. In an app frame of the
 * dashboard (`faztApp` present) the frame runtime already provides `fazt.realtime` over the frame
 * bridge, and this script leaves it alone.
 */
export const REALTIME_CLIENT_JS = `/* fazt.realtime page client (docs/realtime.md) */
(function () {
  'use strict';
  var root = (window.fazt = window.fazt || {});
  if (root.realtime) return;
  var script = document.currentScript;
  var endpoint = new URL('realtime', script && script.src ? script.src : location.href).href;
  var handlers = new Map(); // channel -> Set of { fn, onReset }
  var resetHandlers = new Set();
  var statusHandlers = new Set();
  var es = null, lastId = null, timer = null, retryMs = 1000, state = 'closed';
  function setState(s) {
    if (state === s) return;
    state = s;
    statusHandlers.forEach(function (f) { try { f(s); } catch (e) { console.error(e); } });
  }
  function close() {
    if (es) { es.close(); es = null; }
    clearTimeout(timer);
    timer = null;
  }
  function open() {
    close();
    var channels = Array.from(handlers.keys());
    if (!channels.length) { setState('closed'); return; }
    var url = endpoint + '?channels=' + encodeURIComponent(channels.join(',')) + (lastId ? '&lastEventId=' + encodeURIComponent(lastId) : '');
    setState('connecting');
    var source = (es = new EventSource(url));
    source.addEventListener('ready', function (e) {
      lastId = e.lastEventId || lastId;
      retryMs = 1000;
      setState('open');
    });
    source.addEventListener('message', function (e) {
      if (e.lastEventId) lastId = e.lastEventId;
      var m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      var set = handlers.get(m.channel);
      if (set) set.forEach(function (h) { try { h.fn(m.data, { channel: m.channel, id: e.lastEventId }); } catch (err) { console.error(err); } });
    });
    source.addEventListener('reset', function (e) {
      var info;
      try { info = JSON.parse(e.data); } catch (err) { info = { reason: 'unknown', channels: channels }; }
      resetHandlers.forEach(function (f) { try { f(info); } catch (err) { console.error(err); } });
      (info.channels || []).forEach(function (c) {
        var set = handlers.get(c);
        if (set) set.forEach(function (h) { if (h.onReset) try { h.onReset(info); } catch (err) { console.error(err); } });
      });
    });
    source.onerror = function () {
      if (es !== source) return;
      if (source.readyState === EventSource.CLOSED) {
        // refused (an HTTP error) or the network is gone: the browser will not try again, so we do
        es = null;
        setState('closed');
        timer = setTimeout(open, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
      } else setState('connecting');
    };
  }
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(open, 0); // several subscribe() calls in a row open one stream
  }
  root.realtime = Object.freeze({
    /**
     * Follows a channel of this app. fn(data, { channel, id }) runs for each message.
     * options.onReset(info) runs when messages of the channel were missed (reload your state).
     * Returns a function that stops following.
     */
    subscribe: function (channel, fn, options) {
      if (typeof fn !== 'function') throw new TypeError('fazt.realtime.subscribe(channel, fn): fn must be a function');
      channel = String(channel);
      var h = { fn: fn, onReset: options && options.onReset };
      var set = handlers.get(channel);
      var isNew = !set;
      if (!set) handlers.set(channel, (set = new Set()));
      set.add(h);
      if (isNew) schedule();
      return function () {
        if (!set.delete(h) || set.size) return;
        handlers.delete(channel);
        schedule();
      };
    },
    /** Runs fn(info) on every reset ({ reason, channels }). Returns a function that removes it. */
    onReset: function (fn) { resetHandlers.add(fn); return function () { resetHandlers.delete(fn); }; },
    /** Runs fn(state) when the stream's state changes: 'connecting', 'open', 'closed'. */
    onStatus: function (fn) { statusHandlers.add(fn); return function () { statusHandlers.delete(fn); }; },
    /** The stream's state: 'connecting', 'open' or 'closed'. */
    get state() { return state; },
    /** The id of the last message (or ready event) seen. */
    get lastEventId() { return lastId; }
  });
})();
`;
