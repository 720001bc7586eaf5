/**
 * Fazt in an app's pages (browser code, not `api/main.js`): what `/_fazt/realtime.js` defines, and
 * what the dashboard's app frames define without it. Reference it from a checked page script with
 * `/// <reference path="…/types/fazt-page.d.ts" />`. See docs/realtime.md.
 */

/** Why a page missed messages: reload its state from the app's `api/`. */
interface FaztRealtimeReset {
  /** `restarted` (the node or browser node restarted), `unknown` (an id the app never gave), `expired` (older than the replay window). */
  reason: 'restarted' | 'unknown' | 'expired';
  /** The channels that missed messages. */
  channels: string[];
}

/** About one message. */
interface FaztRealtimeMeta {
  /** The channel it came on. */
  channel: string;
  /** Its id, `<epoch>-<seq>` (the stream resumes after the last one seen). */
  id: string;
}

/** The page client: one Server-Sent Events stream per page for all its channels, resumed after a dropped connection. */
interface FaztRealtimePage {
  /**
   * Follows a channel of this page's app. `fn(data, meta)` runs for each message, in order.
   * @param options.onReset runs when messages of this channel were missed.
   * @returns a function that stops following.
   */
  subscribe<T = unknown>(channel: string, fn: (data: T, meta: FaztRealtimeMeta) => void, options?: { onReset?: (info: FaztRealtimeReset) => void }): () => void;
  /** Runs `fn` on every reset. @returns a function that removes it. */
  onReset(fn: (info: FaztRealtimeReset) => void): () => void;
  /** Runs `fn` when the stream's state changes. @returns a function that removes it. */
  onStatus(fn: (state: 'connecting' | 'open' | 'closed') => void): () => void;
  /** The stream's state. */
  readonly state: 'connecting' | 'open' | 'closed';
  /** The last id seen (`null` before the first). */
  readonly lastEventId: string | null;
}

/** `window.fazt` in an app's page. */
interface FaztPage {
  readonly realtime: FaztRealtimePage;
}

/** Fazt in the page (after `<script src="_fazt/realtime.js">`, or in a dashboard app frame). */
declare var fazt: FaztPage;
