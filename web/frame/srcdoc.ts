/** The bootstrap document of an app frame: the frame runtime and its configuration, nothing else. */
import { IMPORT_MAP_MARKER, TOKEN_CLOSE, TOKEN_OPEN } from './protocol.js';
import { frameRuntime, type RuntimeConfig } from './runtime.js';

/** Escapes a script's text so that it cannot close its `<script>` element early. */
function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** A random nonce (128 bits, hex). */
export function newNonce(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * The srcdoc of a frame that shows the page at `url` of the app at `origin`: one inline script,
 * the runtime, called with its configuration.
 */
export function bootstrapSrcdoc(init: { nonce: string; origin: string; url: string; name: string; title: string }): string {
  const cfg: RuntimeConfig = { ...init, tokenOpen: TOKEN_OPEN, tokenClose: TOKEN_CLOSE, importMapMarker: IMPORT_MAP_MARKER };
  const json = JSON.stringify(cfg).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><script>(${scriptSafe(frameRuntime.toString())})(${json});</script></head><body></body></html>`;
}
