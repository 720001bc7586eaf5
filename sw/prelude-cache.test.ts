import { describe, expect, it } from 'vitest';
import type { PreludeImage } from '../shared/runtime/index.js';
import { decodePreludeImage, encodePreludeImage } from './prelude-cache.js';

const image: PreludeImage = {
  key: 'assets/emscripten-module-abc.wasm/0123abcd/67108864,50331648,262144',
  check: [5333256, 5347976, 5347072, 5394728, 5365992, 5369992, 5347008, 5399064],
  handles: [5400000, 5400016],
  layout: { sbrkAddr: 88000, stackStart: 94208, stackEnd: 5308416 },
  byteLength: 16 * 1024 * 1024,
  low: new Uint8Array(94208).map((_, i) => i % 251),
  heapStart: 5308416,
  heap: new Uint8Array(375000).map((_, i) => (i * 7) % 253),
};

describe('the saved QuickJS prelude image (Cache Storage entry)', () => {
  it('round-trips', async () => {
    const bytes = await encodePreludeImage(image);
    const back = await decodePreludeImage(bytes, image.key);
    expect(back).toBeDefined();
    expect(back!.check).toEqual(image.check);
    expect(back!.handles).toEqual(image.handles);
    expect(back!.layout).toEqual(image.layout);
    expect(back!.heapStart).toBe(image.heapStart);
    expect(back!.byteLength).toBe(image.byteLength);
    expect(back!.low).toEqual(image.low);
    expect(back!.heap).toEqual(image.heap);
  });

  it('is ignored when it belongs to another build, is truncated, has a flipped byte, or is not an image at all', async () => {
    const bytes = await encodePreludeImage(image);
    expect(await decodePreludeImage(bytes, image.key.replace('abc', 'abd'))).toBeUndefined();
    expect(await decodePreludeImage(bytes.subarray(0, bytes.length - 1), image.key)).toBeUndefined();
    const flipped = bytes.slice();
    flipped[flipped.length - 1000] = flipped[flipped.length - 1000]! ^ 0x01;
    expect(await decodePreludeImage(flipped, image.key)).toBeUndefined();
    expect(await decodePreludeImage(new TextEncoder().encode('<html>not found</html>'), image.key)).toBeUndefined();
    expect(await decodePreludeImage(new Uint8Array(0), image.key)).toBeUndefined();
    const hugeHeader = bytes.slice();
    new DataView(hugeHeader.buffer).setUint32(0, 0xffffffff, true);
    expect(await decodePreludeImage(hugeHeader, image.key)).toBeUndefined();
  });
});
