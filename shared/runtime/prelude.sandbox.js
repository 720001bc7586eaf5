// The sandbox side of the runtime bridge. Evaluated once per sandbox, before the memory snapshot
// that every invocation starts from, as a function expression called with the host bridge. It builds
// the Fetch API classes, console, crypto, timers, require() and the `fazt` object, and returns the
// driver's entry points; the raw bridge stays in this closure, out of app code's reach.
//
// Host bridge (installed by sandbox.ts, bound to one app by the kernel):
//   call(op, json?, bytes?)  → string envelope '{"ok":…}' / '{"err":{code,message}}', or an ArrayBuffer
//   async(op, json?, bytes?) → Promise of the same
//   load(spec, from)         → [id, fn] for a CommonJS module, or a string envelope with the error
// Values cross as JSON text and ArrayBuffer copies only: app code never holds a host object.
(function (host) {
  'use strict';
  // Facts of the current invocation (set by run() before the handler runs).
  let meta = { app: { id: '', name: '', version: 0 }, user: null, env: {}, requestId: '', basePath: '' };
  const g = globalThis;
  const hostCall = host.call;
  const hostAsync = host.async;
  const hostLoad = host.load;

  class FaztError extends Error {
    constructor(code, message) {
      super(message);
      this.name = 'FaztError';
      this.code = code;
    }
  }
  const unwrap = (r) => {
    if (typeof r !== 'string') return r;
    const env = JSON.parse(r);
    if (env.err) {
      const e = new FaztError(env.err.code, env.err.message);
      if (env.err.details) { e.details = env.err.details; if (env.err.details.retryAfterSeconds !== undefined) e.retryAfterSeconds = env.err.details.retryAfterSeconds; }
      throw e;
    }
    return env.ok;
  };
  const call = (op, args, bytes) => unwrap(hostCall(op, args === undefined ? '' : JSON.stringify(args), bytes));
  const callAsync = (op, args, bytes) => hostAsync(op, args === undefined ? '' : JSON.stringify(args), bytes).then(unwrap);
  const toBytes = (v) => {
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    throw new TypeError('expected an ArrayBuffer or a typed array');
  };
  const copyBuffer = (u8) => u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength);

  // ---- text, base64, crypto -------------------------------------------------------------------
  class TextEncoder {
    get encoding() {
      return 'utf-8';
    }
    encode(s = '') {
      return new Uint8Array(call('utf8.encode', String(s)));
    }
  }
  class TextDecoder {
    constructor(label = 'utf-8', options = {}) {
      if (!/^utf-?8$/i.test(label)) throw new RangeError(`TextDecoder: only utf-8 is supported, not "${label}"`);
      this.fatal = !!options.fatal;
    }
    get encoding() {
      return 'utf-8';
    }
    decode(v) {
      if (v === undefined) return '';
      return call('utf8.decode', { fatal: this.fatal }, copyBuffer(toBytes(v)));
    }
  }
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function btoa(s) {
    s = String(s);
    let out = '';
    for (let i = 0; i < s.length; i += 3) {
      const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
      if (a > 255 || b > 255 || c > 255) throw new Error('btoa: the string contains characters outside Latin-1');
      const n = (a << 16) | ((b || 0) << 8) | (c || 0);
      out += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < s.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < s.length ? B64[n & 63] : '=');
    }
    return out;
  }
  function atob(s) {
    s = String(s).replace(/[\t\n\f\r ]/g, '');
    if (s.length % 4 === 0) s = s.replace(/==?$/, '');
    if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) throw new Error('atob: the string is not valid base64');
    let out = '', buf = 0, bits = 0;
    for (let i = 0; i < s.length; i++) {
      buf = (buf << 6) | B64.indexOf(s[i]);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += String.fromCharCode((buf >> bits) & 255);
      }
    }
    return out;
  }
  class CryptoKey {
    constructor(algorithm, raw, usages) {
      this.type = 'secret';
      this.algorithm = algorithm;
      this.extractable = false;
      this.usages = usages;
      Object.defineProperty(this, '_raw', { value: raw });
    }
  }
  const hashName = (h) => String(typeof h === 'string' ? h : h && h.name).toUpperCase();
  const subtle = {
    digest: async (alg, data) => callAsync('crypto.digest', { alg: hashName(alg) }, copyBuffer(toBytes(data))),
    importKey: async (format, key, alg, extractable, usages) => {
      if (format !== 'raw' || !alg || String(alg.name).toUpperCase() !== 'HMAC') throw new Error('crypto.subtle.importKey: only raw HMAC keys are supported in the sandbox');
      return new CryptoKey({ name: 'HMAC', hash: { name: hashName(alg.hash) } }, copyBuffer(toBytes(key)), usages || []);
    },
    sign: async (alg, key, data) => {
      if (!(key instanceof CryptoKey)) throw new TypeError('crypto.subtle.sign: key must come from importKey');
      return callAsync('crypto.hmac', { alg: key.algorithm.hash.name }, keyAndData(new Uint8Array(key._raw), toBytes(data)));
    },
    verify: async (alg, key, signature, data) => {
      const mac = new Uint8Array(await subtle.sign(alg, key, data));
      const sig = toBytes(signature);
      if (mac.length !== sig.length) return false;
      let diff = 0;
      for (let i = 0; i < mac.length; i++) diff |= mac[i] ^ sig[i];
      return diff === 0;
    },
  };
  // HMAC input to the host: key length (4 bytes, big-endian), key, data.
  function keyAndData(key, data) {
    const out = new Uint8Array(4 + key.length + data.length);
    new DataView(out.buffer).setUint32(0, key.length);
    out.set(key, 4);
    out.set(data, 4 + key.length);
    return out.buffer;
  }
  const crypto = {
    getRandomValues(arr) {
      if (!ArrayBuffer.isView(arr) || arr instanceof Float32Array || arr instanceof Float64Array) throw new TypeError('getRandomValues: expected an integer typed array');
      if (arr.byteLength > 65536) throw new Error('getRandomValues: at most 65536 bytes per call');
      new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).set(new Uint8Array(call('crypto.random', arr.byteLength)));
      return arr;
    },
    randomUUID: () => call('crypto.uuid'),
    subtle,
  };

  // ---- URL ------------------------------------------------------------------------------------
  class URLSearchParams {
    constructor(init) {
      this._list = [];
      if (init === undefined || init === null) return;
      if (typeof init === 'string') {
        const s = init.startsWith('?') ? init.slice(1) : init;
        for (const part of s.split('&')) {
          if (!part) continue;
          const i = part.indexOf('=');
          const dec = (x) => decodeURIComponent(x.replace(/\+/g, ' '));
          this._list.push(i < 0 ? [dec(part), ''] : [dec(part.slice(0, i)), dec(part.slice(i + 1))]);
        }
      } else if (typeof init[Symbol.iterator] === 'function') {
        for (const [k, v] of init) this._list.push([String(k), String(v)]);
      } else {
        for (const k of Object.keys(init)) this._list.push([k, String(init[k])]);
      }
    }
    _changed() {
      if (this._url) this._url._setSearch(this.toString());
    }
    append(k, v) { this._list.push([String(k), String(v)]); this._changed(); }
    delete(k) { this._list = this._list.filter(([x]) => x !== String(k)); this._changed(); }
    get(k) { const e = this._list.find(([x]) => x === String(k)); return e ? e[1] : null; }
    getAll(k) { return this._list.filter(([x]) => x === String(k)).map(([, v]) => v); }
    has(k) { return this._list.some(([x]) => x === String(k)); }
    set(k, v) {
      k = String(k);
      const i = this._list.findIndex(([x]) => x === k);
      if (i < 0) this._list.push([k, String(v)]);
      else this._list = this._list.filter(([x], j) => x !== k || j === i).map((e, j) => (e[0] === k ? [k, String(v)] : e));
      this._changed();
    }
    sort() { this._list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)); this._changed(); }
    forEach(fn, self) { for (const [k, v] of this._list) fn.call(self, v, k, this); }
    keys() { return this._list.map(([k]) => k)[Symbol.iterator](); }
    values() { return this._list.map(([, v]) => v)[Symbol.iterator](); }
    entries() { return this._list.map((e) => [e[0], e[1]])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    get size() { return this._list.length; }
    toString() {
      const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
      return this._list.map(([k, v]) => enc(k) + '=' + enc(v)).join('&');
    }
  }
  // Parsing follows the WHATWG URL Standard by asking the host's URL parser.
  const URL_PARTS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];
  // The request's own URL comes parsed from the host (`new URL(request.url)` is in nearly every handler).
  let requestUrl = null;
  class URL {
    constructor(url, base) {
      const href = String(url);
      if (requestUrl !== null && base === undefined && href === requestUrl.href) this._set(requestUrl);
      else this._set(call('url.parse', { url: href, base: base === undefined ? undefined : String(base) }));
    }
    static canParse(url, base) {
      try { new URL(url, base); return true; } catch { return false; }
    }
    _set(parts) {
      this._p = parts;
      this._sp = new URLSearchParams(parts.search);
      this._sp._url = this;
    }
    _setSearch(q) {
      this._p = call('url.set', { href: this._p.href, part: 'search', value: q });
    }
    get searchParams() { return this._sp; }
    toString() { return this._p.href; }
    toJSON() { return this._p.href; }
  }
  for (const part of URL_PARTS) {
    Object.defineProperty(URL.prototype, part, {
      get() { return this._p[part]; },
      set(value) {
        if (part === 'origin') return;
        this._set(call('url.set', { href: this._p.href, part, value: String(value) }));
      },
    });
  }

  // ---- Blob, File, FormData, Headers ----------------------------------------------------------
  const bytesOf = (part) => {
    if (typeof part === 'string') return new TextEncoder().encode(part);
    if (part instanceof Blob) return part._bytes;
    return toBytes(part);
  };
  class Blob {
    constructor(parts = [], options = {}) {
      const chunks = parts.map(bytesOf);
      const size = chunks.reduce((n, c) => n + c.length, 0);
      const all = new Uint8Array(size);
      let o = 0;
      for (const c of chunks) { all.set(c, o); o += c.length; }
      this._bytes = all;
      this.type = options.type ? String(options.type).toLowerCase() : '';
    }
    get size() { return this._bytes.length; }
    async arrayBuffer() { return copyBuffer(this._bytes); }
    async bytes() { return this._bytes.slice(); }
    async text() { return new TextDecoder().decode(this._bytes); }
    slice(start = 0, end = this.size, type = '') { return new Blob([this._bytes.slice(start, end)], { type }); }
  }
  class File extends Blob {
    constructor(parts, name, options = {}) {
      super(parts, options);
      this.name = String(name);
      this.lastModified = options.lastModified ?? Date.now();
    }
  }
  class FormData {
    constructor() { this._list = []; }
    append(k, v, filename) { this._list.push([String(k), this._value(v, filename)]); }
    _value(v, filename) {
      if (v instanceof Blob) return v instanceof File && filename === undefined ? v : new File([v], filename ?? 'blob', { type: v.type });
      return String(v);
    }
    delete(k) { this._list = this._list.filter(([x]) => x !== k); }
    get(k) { const e = this._list.find(([x]) => x === k); return e ? e[1] : null; }
    getAll(k) { return this._list.filter(([x]) => x === k).map(([, v]) => v); }
    has(k) { return this._list.some(([x]) => x === k); }
    set(k, v, filename) { this.delete(k); this.append(k, v, filename); }
    entries() { return this._list.map((e) => [e[0], e[1]])[Symbol.iterator](); }
    keys() { return this._list.map(([k]) => k)[Symbol.iterator](); }
    values() { return this._list.map(([, v]) => v)[Symbol.iterator](); }
    forEach(fn, self) { for (const [k, v] of this._list) fn.call(self, v, k, this); }
    [Symbol.iterator]() { return this.entries(); }
  }
  const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  class Headers {
    constructor(init) {
      this._map = new Map();
      if (!init) return;
      if (init instanceof Headers) init = init.entries();
      if (typeof init[Symbol.iterator] === 'function') for (const [k, v] of init) this.append(k, v);
      else for (const k of Object.keys(init)) this.append(k, init[k]);
    }
    _name(k) {
      k = String(k);
      if (!HEADER_NAME.test(k)) throw new TypeError(`"${k}" is not a valid header name`);
      return k.toLowerCase();
    }
    _val(v) {
      v = String(v).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
      if (/[\0\r\n]/.test(v)) throw new TypeError('a header value cannot contain NUL, CR or LF');
      return v;
    }
    append(k, v) {
      k = this._name(k);
      const list = this._map.get(k);
      if (list) list.push(this._val(v));
      else this._map.set(k, [this._val(v)]);
    }
    set(k, v) { this._map.set(this._name(k), [this._val(v)]); }
    get(k) { const l = this._map.get(this._name(k)); return l ? l.join(', ') : null; }
    getSetCookie() { return (this._map.get('set-cookie') || []).slice(); }
    has(k) { return this._map.has(this._name(k)); }
    delete(k) { this._map.delete(this._name(k)); }
    forEach(fn, self) { for (const [k, v] of this.entries()) fn.call(self, v, k, this); }
    entries() {
      const out = [];
      for (const k of [...this._map.keys()].sort()) {
        if (k === 'set-cookie') for (const v of this._map.get(k)) out.push([k, v]);
        else out.push([k, this._map.get(k).join(', ')]);
      }
      return out[Symbol.iterator]();
    }
    keys() { return [...this.entries()].map(([k]) => k)[Symbol.iterator](); }
    values() { return [...this.entries()].map(([, v]) => v)[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
  }

  // ---- Request and Response -------------------------------------------------------------------
  // A body is one of: null, { bytes: Uint8Array }, { host: true } (the incoming request body, still
  // on the host), { blob: key } (an app blob, streamed by the host), { form: FormData }.
  function extractBody(body, headers) {
    if (body === undefined || body === null) return null;
    const setType = (t) => { if (!headers.has('content-type')) headers.set('content-type', t); };
    if (typeof body === 'string') { setType('text/plain;charset=UTF-8'); return { text: body }; }
    if (body instanceof URLSearchParams) { setType('application/x-www-form-urlencoded;charset=UTF-8'); return { bytes: new TextEncoder().encode(body.toString()) }; }
    if (body instanceof FaztBlob) { setType(body.contentType); return { blob: body.key, size: body.size }; }
    if (body instanceof Blob) { if (body.type) setType(body.type); return { bytes: body._bytes }; }
    if (body instanceof FormData) return { form: body };
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return { bytes: toBytes(body).slice() };
    if (body && typeof body.getReader === 'function') throw new TypeError('ReadableStream bodies are not supported in the Fazt sandbox: pass a string, bytes, Blob or fazt.blobs object');
    setType('text/plain;charset=UTF-8');
    return { bytes: new TextEncoder().encode(String(body)) };
  }
  class Body {
    get bodyUsed() { return this._used; }
    get body() { return this._body ? { locked: false, getReader() { throw new TypeError('streams are not supported in the Fazt sandbox; use arrayBuffer(), text() or json()'); } } : null; }
    async _consume() {
      if (this._used) throw new TypeError('Body has already been consumed');
      this._used = true;
      const b = this._body;
      if (!b) return new Uint8Array(0);
      if (b.bytes) return b.bytes;
      if (b.text !== undefined) return new TextEncoder().encode(b.text);
      if (b.host) return new Uint8Array(await callAsync('body.read'));
      if (b.blob) return new Uint8Array(await callAsync('blobs.read', b.blob));
      if (b.net !== undefined) return new Uint8Array(call('net.body', b.net));
      throw new TypeError('this body cannot be read in the sandbox');
    }
    async arrayBuffer() { return copyBuffer(await this._consume()); }
    async bytes() { return (await this._consume()).slice(); }
    async text() {
      const b = this._body;
      if (b && b.text !== undefined && !this._used) { this._used = true; return b.text; }
      return new TextDecoder().decode(await this._consume());
    }
    async json() {
      const t = await this.text();
      try { return JSON.parse(t); } catch (e) { throw new SyntaxError(`body is not valid JSON: ${e.message}`); }
    }
    async blob() { return new Blob([await this._consume()], { type: this.headers.get('content-type') || '' }); }
    async formData() {
      const type = this.headers.get('content-type') || '';
      if (/^application\/x-www-form-urlencoded/i.test(type)) {
        const fd = new FormData();
        for (const [k, v] of new URLSearchParams(await this.text())) fd.append(k, v);
        return fd;
      }
      if (/^multipart\/form-data/i.test(type)) {
        if (this._body && this._body.host && !this._used) {
          this._used = true;
          const parts = await callAsync('body.formData');
          const blob = parts.length && parts.some((p) => p.file) ? new Uint8Array(call('body.formDataFiles')) : null;
          const fd = new FormData();
          for (const p of parts) fd.append(p.name, p.file ? new File([blob.subarray(p.start, p.end)], p.filename, { type: p.type }) : p.value);
          return fd;
        }
        if (this._body && this._body.form && !this._used) { this._used = true; return this._body.form; }
        throw new TypeError('this multipart body cannot be parsed in the sandbox');
      }
      throw new TypeError(`formData(): unsupported content-type "${type}"`);
    }
  }
  class Request extends Body {
    constructor(input, init = {}) {
      super();
      if (input instanceof Request) {
        this.url = input.url;
        this.method = input.method;
        this.headers = new Headers(input.headers);
        this._body = input._body;
      } else {
        this.url = new URL(String(input)).href;
        this.method = 'GET';
        this.headers = new Headers();
        this._body = null;
      }
      if (init.method) this.method = String(init.method).toUpperCase();
      if (init.headers) this.headers = new Headers(init.headers);
      if (init.body !== undefined) this._body = extractBody(init.body, this.headers);
      if (this._body && (this.method === 'GET' || this.method === 'HEAD')) throw new TypeError('a GET or HEAD request cannot have a body');
      this._used = false;
      this.signal = init.signal ?? null;
      this.redirect = init.redirect ?? 'follow';
    }
    clone() { if (this._used) throw new TypeError('cannot clone a used body'); return new Request(this); }
  }
  class Response extends Body {
    constructor(body = null, init = {}) {
      super();
      this.status = init.status ?? 200;
      if (!Number.isInteger(this.status) || this.status < 200 || this.status > 599) throw new RangeError(`Response status ${this.status} is not in 200–599`);
      this.statusText = init.statusText ?? '';
      this.headers = new Headers(init.headers);
      if (body !== null && body !== undefined && [204, 205, 304].includes(this.status)) throw new TypeError(`a ${this.status} response cannot have a body`);
      this._body = extractBody(body, this.headers);
      this._used = false;
      this.type = 'default';
      this.url = init._url ?? '';
      this.redirected = false;
    }
    get ok() { return this.status >= 200 && this.status < 300; }
    clone() { if (this._used) throw new TypeError('cannot clone a used body'); const r = new Response(null, this); r._body = this._body; return r; }
    static json(data, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
      return new Response(JSON.stringify(data), { ...init, headers });
    }
    static redirect(url, status = 302) {
      if (![301, 302, 303, 307, 308].includes(status)) throw new RangeError('redirect status must be 301, 302, 303, 307 or 308');
      return new Response(null, { status, headers: { location: String(url) } });
    }
    static error() { const r = new Response(null, { status: 500 }); r.type = 'error'; return r; }
  }
  // A stored blob: metadata now, bytes on demand; as a Response body the host streams it.
  class FaztBlob {
    constructor(info) { Object.assign(this, info); }
    async arrayBuffer() { return callAsync('blobs.read', this.key); }
    async text() { return new TextDecoder().decode(await this.arrayBuffer()); }
    async json() { return JSON.parse(await this.text()); }
  }

  // ---- console, timers ------------------------------------------------------------------------
  const fmt = (args) => args.map((a) => {
    if (typeof a === 'string') return a;
    if (a instanceof Error) return a.stack ? `${a.name}: ${a.message}\n${a.stack}` : `${a.name}: ${a.message}`;
    try { const s = JSON.stringify(a); return s === undefined ? String(a) : s; } catch { return String(a); }
  }).join(' ');
  const log = (level) => (...args) => { hostCall('log', JSON.stringify({ level, message: fmt(args) })); };
  const console = { log: log('info'), info: log('info'), debug: log('debug'), warn: log('warn'), error: log('error'), trace: log('debug') };
  let timerSeq = 0;
  const timers = new Map();
  function setTimeout(fn, ms = 0, ...args) {
    if (typeof fn !== 'function') throw new TypeError('setTimeout: the callback must be a function');
    const id = ++timerSeq;
    timers.set(id, true);
    hostAsync('timer', JSON.stringify({ id, ms: Math.max(0, Number(ms) || 0) })).then(() => {
      if (!timers.delete(id)) return;
      fn(...args);
    });
    return id;
  }
  function clearTimeout(id) {
    if (timers.delete(id)) hostCall('timer.clear', JSON.stringify({ id }));
  }

  // ---- fazt.* ---------------------------------------------------------------------------------
  const bodyForHost = async (body) => {
    if (body instanceof Request || body instanceof Response) {
      const b = body._body;
      if (b && b.host) return { ref: 'request', type: body.headers.get('content-type') };
      if (b && b.blob) return { ref: 'blob', key: b.blob, type: body.headers.get('content-type') };
      return { bytes: await body.bytes(), type: body.headers.get('content-type') };
    }
    if (body instanceof FaztBlob) return { ref: 'blob', key: body.key, type: body.contentType };
    if (body instanceof Blob) return { bytes: body._bytes, type: body.type || null };
    if (typeof body === 'string') return { bytes: new TextEncoder().encode(body), type: 'text/plain; charset=utf-8' };
    return { bytes: toBytes(body), type: null };
  };
  const kv = {
    get: async (key) => call('kv.get', { key }) ?? null,
    set: async (key, value, options = {}) => {
      if (value === undefined) throw new FaztError('INVALID_ARGUMENT', `kv.set("${key}"): the value is undefined; use kv.delete to remove a key`);
      call('kv.set', { key, value, ttl: options.ttl });
    },
    delete: async (key) => call('kv.delete', { key }),
    list: async (options = {}) => call('kv.list', options),
    increment: async (key, by = 1, options = {}) => call('kv.increment', { key, by, ttl: options.ttl }),
  };
  const collection = (name) => ({
    insert: async (doc) => call('docs.insert', { collection: name, doc }),
    get: async (id) => call('docs.get', { collection: name, id }) ?? null,
    find: async (query = {}) => call('docs.find', { collection: name, query }),
    update: async (idOrFilter, update) => call('docs.update', { collection: name, target: idOrFilter, update }),
    delete: async (idOrFilter) => call('docs.delete', { collection: name, target: idOrFilter }),
    count: async (where) => call('docs.count', { collection: name, where }),
  });
  const blobs = {
    put: async (key, body, options = {}) => {
      const b = await bodyForHost(body);
      const contentType = options.contentType || b.type || 'application/octet-stream';
      return callAsync('blobs.put', { key, contentType, ref: b.ref, from: b.key }, b.bytes ? copyBuffer(b.bytes) : undefined);
    },
    get: async (key) => { const info = call('blobs.head', { key }); return info ? new FaztBlob(info) : null; },
    head: async (key) => call('blobs.head', { key }) ?? null,
    delete: async (key) => call('blobs.delete', { key }),
    list: async (options = {}) => call('blobs.list', options),
  };
  // ---- fazt.ai ----------------------------------------------------------------------------------
  // A call begins on the host at once (ai.begin) and is read with ai.result / ai.next. Tools stay
  // here: a pump takes the model's tool calls from the host (ai.tool), runs their execute() and
  // hands back the result (ai.toolResult); the invocation waits for the pump like for waitUntil.
  let currentWaits = null;
  const aiBegin = (kind, options) => {
    if (typeof options !== 'object' || options === null) throw new FaztError('INVALID_ARGUMENT', `fazt.ai: pass an options object like { prompt: 'Hello' }`);
    const { tools, stopWhen, ...rest } = options;
    if (stopWhen !== undefined) {
      // the SDK's stopWhen: stepCountIs(n), as fazt.ai.stepCountIs(n) makes it
      const n = stopWhen && stopWhen.stepCount;
      if (!Number.isInteger(n)) throw new FaztError('INVALID_ARGUMENT', 'fazt.ai: stopWhen takes fazt.ai.stepCountIs(n) (or give maxSteps: n)');
      rest.maxSteps = n;
    }
    let specs;
    if (tools !== undefined && tools !== null) {
      if (typeof tools !== 'object') throw new FaztError('INVALID_ARGUMENT', 'fazt.ai: tools must be an object of name → { description, inputSchema, execute }');
      specs = {};
      for (const name of Object.keys(tools)) {
        const t = tools[name];
        if (!t || typeof t !== 'object') throw new FaztError('INVALID_ARGUMENT', `fazt.ai: tool "${name}" must be an object`);
        if (t.execute !== undefined && typeof t.execute !== 'function') throw new FaztError('INVALID_ARGUMENT', `fazt.ai: tool "${name}": execute must be a function`);
        specs[name] = { description: t.description, inputSchema: t.inputSchema ?? t.parameters };
      }
    }
    const { id } = call('ai.begin', { kind, ...rest, tools: specs });
    let pump = null;
    if (specs) {
      pump = (async () => {
        for (;;) {
          const req = await callAsync('ai.tool', { id });
          if (!req) return;
          const t = tools[req.toolName];
          let out;
          try {
            if (!t || typeof t.execute !== 'function') throw new Error(`the tool "${req.toolName}" has no execute function`);
            const v = await t.execute(req.input, { toolCallId: req.toolCallId });
            out = { output: v === undefined ? null : JSON.parse(JSON.stringify(v)) };
          } catch (e) {
            out = { error: { code: e && e.code, message: String((e && e.message) || e) } };
          }
          call('ai.toolResult', { id, toolCallId: req.toolCallId, ...out });
        }
      })();
      if (currentWaits) currentWaits.push(pump.catch(() => {}));
    }
    return { id, pump };
  };
  const aiRun = async (kind, options) => {
    const { id, pump } = aiBegin(kind, options);
    try {
      return await callAsync('ai.result', { id });
    } finally {
      if (pump) await pump.catch(() => {});
    }
  };
  class StreamTextResult {
    constructor(id) {
      this._id = id;
      this._r = null;
    }
    _result() { return (this._r ??= callAsync('ai.result', { id: this._id })); }
    get text() { return this._result().then((r) => r.text); }
    get usage() { return this._result().then((r) => r.usage); }
    get totalUsage() { return this._result().then((r) => r.usage); }
    get finishReason() { return this._result().then((r) => r.finishReason); }
    get toolCalls() { return this._result().then((r) => r.toolCalls); }
    get toolResults() { return this._result().then((r) => r.toolResults); }
    async *_parts() {
      let cursor = 0;
      for (;;) {
        const r = await callAsync('ai.next', { id: this._id, cursor });
        cursor = r.cursor;
        for (const p of r.parts) {
          if (p.type === 'error') throw new FaztError(p.error.code, p.error.message);
          yield p;
        }
        if (r.done) return;
      }
    }
    get fullStream() { return this._parts(); }
    get textStream() {
      const parts = this._parts();
      return (async function* () { for await (const p of parts) if (p.type === 'text') yield p.text; })();
    }
    _response(format, type, init) {
      const headers = new Headers(init && init.headers);
      if (!headers.has('content-type')) headers.set('content-type', type);
      if (format === 'sse') {
        if (!headers.has('cache-control')) headers.set('cache-control', 'no-cache');
        headers.set('x-vercel-ai-ui-message-stream', 'v1');
      }
      const res = new Response(null, { status: (init && init.status) || 200, statusText: init && init.statusText, headers });
      res._body = { ai: this._id, format };
      return res;
    }
    toTextStreamResponse(init) { return this._response('text', 'text/plain; charset=utf-8', init); }
    toUIMessageStreamResponse(init) { return this._response('sse', 'text/event-stream', init); }
  }
  const ai = {
    stepCountIs: (n) => Object.freeze({ stepCount: n }),
    generateText: (options) => aiRun('text', options),
    generateObject: (options) => aiRun('object', options),
    embed: (options) => aiRun('embed', options),
    streamText: (options) => new StreamTextResult(aiBegin('stream', options).id),
  };
  const when = (d) => (d instanceof Date ? d.getTime() : typeof d === 'string' ? Date.parse(d) : Number(d));
  const fazt = {
    get app() { return meta.app; },
    get user() { return meta.user; },
    get env() { return meta.env; },
    kv: Object.freeze(kv),
    docs: Object.freeze({ collection }),
    blobs: Object.freeze(blobs),
    events: Object.freeze({ emit: async (type, payload = null) => call('events.emit', { type, payload }) }),
    realtime: Object.freeze({ publish: async (channel, data = null) => call('realtime.publish', { channel, data }) }),
    schedule: Object.freeze({
      after: async (ms, state) => call('schedule.after', { ms, state }),
      at: async (date, state) => call('schedule.at', { at: when(date), state }),
      cancel: async (id) => call('schedule.cancel', { id }),
      list: async () => call('schedule.list'),
    }),
    log: Object.freeze({
      debug: (message, data) => call('log', { level: 'debug', message: String(message), data }),
      info: (message, data) => call('log', { level: 'info', message: String(message), data }),
      warn: (message, data) => call('log', { level: 'warn', message: String(message), data }),
      error: (message, data) => call('log', { level: 'error', message: String(message), data }),
    }),
    ai: Object.freeze(ai),
    // fazt.notify({ title, body?, url?, tag? }): the owner's devices, as this app (permission "notify"); resolves with a report per device
    notify: async (message) => callAsync('notify.send', message === undefined ? {} : message),
    net: Object.freeze({
      fetch: async (input, init = {}) => {
        const req = input instanceof Request ? new Request(input, init) : new Request(String(input), init);
        const b = req._body ? await req.bytes() : undefined;
        const r = await callAsync('net.fetch', { url: req.url, method: req.method, headers: [...req.headers], timeout: init.timeout, redirect: req.redirect }, b ? copyBuffer(b) : undefined);
        const res = new Response(null, { status: r.status, statusText: r.statusText, headers: r.headers, _url: r.url });
        res._body = { net: r.body };
        res.redirected = r.redirected;
        return res;
      },
    }),
  };
  Object.freeze(fazt);

  // ---- require() ------------------------------------------------------------------------------
  const moduleCache = new Map();
  function makeRequire(from) {
    const req = function require(spec) {
      const r = hostLoad(String(spec), from);
      if (typeof r === 'string') unwrap(r);
      const [id, fn, kind] = r;
      const cached = moduleCache.get(id);
      if (cached) return cached.exports;
      if (kind === 'json') { const m = { exports: fn }; moduleCache.set(id, m); return fn; }
      const module = { id, exports: {}, loaded: false };
      moduleCache.set(id, module);
      const dir = id.includes('/') ? id.slice(0, id.lastIndexOf('/')) : '';
      fn.call(module.exports, module, module.exports, makeRequire(id), id, dir);
      module.loaded = true;
      return module.exports;
    };
    return req;
  }

  // ---- results --------------------------------------------------------------------------------
  // Normalizes what a handler returned into [metaJson, body] for the host.
  // Plain values (the common case) skip building a Response and its Headers.
  const META_204 = JSON.stringify({ status: 204, statusText: '', headers: [] });
  const META_TEXT = JSON.stringify({ status: 200, statusText: '', headers: [['content-type', 'text/plain; charset=utf-8']] });
  const META_JSON = JSON.stringify({ status: 200, statusText: '', headers: [['content-type', 'application/json']] });
  function finish(value) {
    let res = value;
    if (res === undefined || res === null) return [META_204, undefined];
    if (typeof res === 'string') return [META_TEXT, res];
    if (typeof res === 'object' && !(res instanceof Response) && !(res instanceof ArrayBuffer) && !ArrayBuffer.isView(res) && !(res instanceof Blob)) {
      return [META_JSON, JSON.stringify(res)];
    }
    if (!(res instanceof Response)) {
      if (res === undefined || res === null) res = new Response(null, { status: 204 });
      else if (typeof res === 'string') res = new Response(res, { headers: { 'content-type': 'text/plain; charset=utf-8' } });
      else if (res instanceof ArrayBuffer || ArrayBuffer.isView(res) || res instanceof Blob) res = new Response(res);
      else res = Response.json(res);
    }
    const b = res._body;
    const m = { status: res.status, statusText: res.statusText, headers: [...res.headers] };
    // no body built here: `undefined` (the host reads an object as the body's ArrayBuffer)
    if (!b) return [JSON.stringify(m), undefined];
    if (b.text !== undefined) return [JSON.stringify(m), b.text];
    if (b.bytes) return [JSON.stringify(m), copyBuffer(b.bytes)];
    if (b.blob) { m.blob = b.blob; return [JSON.stringify(m), undefined]; }
    if (b.host) { m.echo = true; return [JSON.stringify(m), undefined]; }
    if (b.net !== undefined) { m.net = b.net; return [JSON.stringify(m), undefined]; }
    if (b.ai !== undefined) { m.ai = { id: b.ai, format: b.format }; return [JSON.stringify(m), undefined]; }
    if (b.form) throw new TypeError('a FormData response body is not supported; return JSON instead');
    throw new TypeError('unsupported response body');
  }
  function errorInfo(e) {
    if (e instanceof Error) return JSON.stringify({ name: e.name, message: String(e.message), code: e.code, details: e.details, stack: e.stack });
    let message;
    try { message = typeof e === 'string' ? e : JSON.stringify(e); } catch { message = String(e); }
    return JSON.stringify({ name: 'Error', message: `non-Error thrown: ${message}` });
  }
  // The incoming request: URL and headers come valid (and lower-cased) from the host, so they are
  // taken as they are instead of being parsed again.
  function makeRequest(r) {
    const req = Object.create(Request.prototype);
    const headers = Object.create(Headers.prototype);
    headers._map = new Map();
    for (const [k, v] of r.headers) {
      const list = headers._map.get(k);
      if (list) list.push(v);
      else headers._map.set(k, [v]);
    }
    req.url = r.url;
    if (r.urlParts) requestUrl = r.urlParts;
    req.method = r.method;
    req.headers = headers;
    req._body = r.hasBody ? { host: true } : null;
    req._used = false;
    req.signal = null;
    req.redirect = 'follow';
    return req;
  }

  // Math.random: QuickJS seeds it once per context, and every invocation starts from the same memory
  // snapshot, so it is reseeded per invocation from the host's CSPRNG (xorshift128+, not for crypto).
  let s0 = 1, s1 = 2;
  const random = () => {
    let x = s0, y = s1;
    s0 = y;
    x ^= x << 23; x ^= x >>> 17; x ^= y ^ (y >>> 26);
    s1 = x;
    return ((((s0 + s1) >>> 0) * 2097152 + ((s1 >>> 11) & 2097151)) % 9007199254740992) / 9007199254740992;
  };
  Object.defineProperty(Math, 'random', { value: random, writable: true, configurable: true });

  // Picks the export (`export default { fetch }`, `export function fetch`, `module.exports = fn` or
  // `{ fetch }`), calls it with (arg, env, ctx) and normalizes the result.
  // Resolves to [metaJson, body, waitUntilPromise].
  function run(ns, kind, argJson, metaJson) {
    meta = JSON.parse(metaJson);
    Object.freeze(meta.app);
    if (meta.user) Object.freeze(meta.user);
    Object.freeze(meta.env);
    s0 = meta.seed[0] | 0 || 1;
    s1 = meta.seed[1] | 0 || 2;
    const d = ns && ns.default;
    const pick = (o, k) => (o && typeof o[k] === 'function' ? o[k].bind(o) : undefined);
    let fn = pick(d, kind) || pick(ns, kind);
    if (!fn && kind === 'fetch') fn = typeof d === 'function' ? d : typeof ns === 'function' ? ns : undefined;
    if (!fn) {
      const hint = kind === 'fetch' ? 'export default { fetch(request) { … } } or module.exports = (request) => …' : 'export default { ' + kind + '(arg) { … } }';
      return Promise.reject(new FaztError('NO_HANDLER', 'api/main.js has no ' + kind + ' handler: ' + hint));
    }
    const waits = [];
    currentWaits = waits;
    const ctx = { requestId: meta.requestId, basePath: meta.basePath, waitUntil(p) { waits.push(Promise.resolve(p)); } };
    let arg;
    try {
      arg = kind === 'fetch' ? makeRequest(JSON.parse(argJson)) : JSON.parse(argJson);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve) => resolve(fn(arg, meta.env, ctx))).then((value) => {
      const [m, body] = kind === 'fetch' ? finish(value) : ['{}', null];
      const background = Promise.allSettled(waits).then((rs) => { const bad = rs.find((r) => r.status === 'rejected'); if (bad) throw bad.reason; });
      return [m, body, background];
    });
  }

  const define = (name, value) => Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
  for (const [k, v] of Object.entries({
    TextEncoder, TextDecoder, atob, btoa, crypto, URL, URLSearchParams, Blob, File, FormData, Headers, Request, Response,
    console, setTimeout, clearTimeout, fazt, FaztError,
    queueMicrotask: (fn) => { Promise.resolve().then(fn); },
    require: makeRequire('api/main.js'),
  })) define(k, v);
  return { run, errorInfo, makeRequire };
});
