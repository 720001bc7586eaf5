/**
 * The device node keeps the QuickJS sandbox's post-prelude memory (a `PreludeImage`, ~460 KB) in
 * Cache Storage, so a restarted service worker creates its first sandbox by copying that memory into
 * a fresh QuickJS instance instead of evaluating the ~33 KB prelude again (15–30 ms of a cold start).
 *
 * One entry, in the cache {@link PRELUDE_CACHE}: a small JSON header (the image's key, pointers and
 * layout, and the SHA-256 of the bytes), then the static data and the heap. A damaged, truncated or
 * foreign entry is ignored (the prelude runs, and the entry is replaced); the sandbox applies an
 * image only when its key (QuickJS build, prelude, limits) and pointers match (shared/runtime/sandbox.ts).
 * The entry is a cache, not state: it never goes into the cartridge, and deleting it costs one slow start.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import type { PreludeImage } from '../shared/runtime/index.js';

/** Cache Storage name of the entry. */
export const PRELUDE_CACHE = 'fazt-runtime';
const ENTRY = '/__fazt/quickjs-prelude-image';
const MAGIC = 'FZPI1';

interface Header {
  magic: string;
  key: string;
  check: number[];
  handles: number[];
  layout: PreludeImage['layout'];
  byteLength: number;
  heapStart: number;
  lowBytes: number;
  heapBytes: number;
  sha256: string;
}

const hex = (digest: ArrayBuffer) => bytesToHex(new Uint8Array(digest));

/** Encodes an image: 4-byte little-endian header length, the JSON header, static data, heap. */
export async function encodePreludeImage(image: PreludeImage): Promise<Uint8Array> {
  const body = new Uint8Array(image.low.length + image.heap.length);
  body.set(image.low, 0);
  body.set(image.heap, image.low.length);
  const header: Header = {
    magic: MAGIC,
    key: image.key,
    check: image.check,
    handles: image.handles,
    layout: image.layout,
    byteLength: image.byteLength,
    heapStart: image.heapStart,
    lowBytes: image.low.length,
    heapBytes: image.heap.length,
    sha256: hex(await crypto.subtle.digest('SHA-256', body)),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + json.length + body.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 4);
  out.set(body, 4 + json.length);
  return out;
}

/**
 * Decodes an image encoded by {@link encodePreludeImage}.
 * @returns the image, or `undefined` when the bytes are not a whole, intact image for `key`.
 */
export async function decodePreludeImage(bytes: Uint8Array, key: string): Promise<PreludeImage | undefined> {
  try {
    if (bytes.length < 4) return undefined;
    const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
    if (n > 4096 || 4 + n > bytes.length) return undefined;
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n))) as Header;
    if (h.magic !== MAGIC || h.key !== key) return undefined;
    const body = bytes.subarray(4 + n);
    if (body.length !== h.lowBytes + h.heapBytes) return undefined;
    if (hex(await crypto.subtle.digest('SHA-256', body as Uint8Array<ArrayBuffer>)) !== h.sha256) return undefined;
    return {
      key: h.key,
      check: h.check,
      handles: h.handles,
      layout: h.layout,
      byteLength: h.byteLength,
      low: body.slice(0, h.lowBytes),
      heapStart: h.heapStart,
      heap: body.slice(h.lowBytes),
    };
  } catch {
    return undefined;
  }
}

/** The saved image for `key`, or `undefined` (none, another build's, or damaged). Never throws. */
export async function loadPreludeImage(key: string): Promise<PreludeImage | undefined> {
  try {
    const res = await (await caches.open(PRELUDE_CACHE)).match(ENTRY);
    if (!res) return undefined;
    return await decodePreludeImage(new Uint8Array(await res.arrayBuffer()), key);
  } catch {
    return undefined;
  }
}

/** Saves `image` as the entry (replacing any other). @throws the Cache Storage error (quota). */
export async function savePreludeImage(image: PreludeImage): Promise<void> {
  const bytes = await encodePreludeImage(image);
  const cache = await caches.open(PRELUDE_CACHE);
  await cache.put(ENTRY, new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream' } }));
}
