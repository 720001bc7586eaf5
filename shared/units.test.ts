import { describe, expect, it } from 'vitest';
import { normalizeUploadPath, requestPathToVfs } from './vfs/paths.js';
import { LruCache } from './lib/lru.js';
import { parseManifest } from './apps/manifest.js';
import { assertAppName } from './apps/names.js';
import { HybridLogicalClock, decodeHlc } from './clock/index.js';
import { isFingerprinted, parseRange } from './http/static.js';
import { LoginRateLimiter, sourceKey } from './auth/rate-limit.js';
import { normalizeLoginCode } from './auth/login-codes.js';
import { FaztError } from './errors.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as FaztError).code;
  }
  return 'no error';
};

describe('upload paths', () => {
  it('accepts ordinary relative paths and strips ./', () => {
    expect(normalizeUploadPath('index.html')).toBe('index.html');
    expect(normalizeUploadPath('caf\u00e9/\u00a0\u00ff.txt')).toBe('café/\u00a0ÿ.txt'); // Latin-1 letters after the C1 block
    expect(normalizeUploadPath('./a/b c/é.png')).toBe('a/b c/é.png');
  });
  it.each([['../etc/passwd'], ['a/../../b'], ['/abs'], ['a\\b'], ['a\u0000b'], ['C:/x'], ['a//b'], ['a/./b'], [''], ['dir/'], ['x'.repeat(1025)], ['a\nb'], ['a\u007fb'], ['a\u0080b'], ['a\u0085b'], ['\u009b2J.html'], ['a\u009fb']])(
    'refuses %j',
    (p) => expect(code(() => normalizeUploadPath(p))).toBe('UNSAFE_PATH'),
  );
  it('maps request paths to VFS paths and refuses encoded traversal', () => {
    expect(requestPathToVfs('/')).toBe('');
    expect(requestPathToVfs('/docs/')).toBe('docs/');
    expect(requestPathToVfs('/a%20b/c.txt')).toBe('a b/c.txt');
    expect(requestPathToVfs('/..%2f..%2fx')).toBeUndefined();
    expect(requestPathToVfs('/%2e%2e/x')).toBeUndefined();
    expect(requestPathToVfs('/a%00')).toBeUndefined();
    expect(requestPathToVfs('/a%C2%85b')).toBeUndefined(); // C1 (U+0085)
    expect(requestPathToVfs('/%C2%A0x')).toBe('\u00a0x'); // U+00A0 is not a control character
    expect(requestPathToVfs('/%E0%A4%A')).toBeUndefined();
  });
});

describe('LRU cache', () => {
  it('evicts the least recently used entry by count and by weight', () => {
    const c = new LruCache<string, number>(2, 10);
    c.set('a', 1);
    c.set('b', 2);
    c.get('a');
    c.set('c', 3);
    expect([c.has('a'), c.has('b'), c.has('c')]).toEqual([true, false, true]);
    c.set('heavy', 4, 9); // a goes (count), weight c 1 + heavy 9 = 10 fits
    expect([c.has('a'), c.has('c'), c.has('heavy')]).toEqual([false, true, true]);
    c.set('d', 5, 2); // weight 12 > 10: c goes, then heavy goes
    expect([c.has('c'), c.has('heavy'), c.has('d')]).toEqual([false, false, true]);
    c.set('too-heavy', 5, 11);
    expect(c.has('too-heavy')).toBe(false);
  });
});

describe('app.json', () => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  it('applies defaults and reports unknown keys as warnings', () => {
    const { manifest, warnings } = parseManifest(bytes('{"name":"blog","colour":"red"}'));
    expect(manifest).toMatchObject({ name: 'blog', spa: false, permissions: [], schedule: [] });
    expect(warnings).toEqual(['app.json: unknown key "colour" ignored']);
  });
  it('explains JSON syntax errors and schema errors', () => {
    expect(() => parseManifest(bytes('{"name": "blog",}'))).toThrow(/app.json is not valid JSON/);
    expect(() => parseManifest(bytes('[1]'))).toThrow(/must be a JSON object/);
    expect(() => parseManifest(bytes('{"spa":"yes"}'))).toThrow(/app.json is invalid: spa: /);
    expect(() => parseManifest(bytes('{"name":"Bad Name"}'))).toThrow(/name: use 1–63 lowercase/);
    expect(() => parseManifest(new Uint8Array([0xff, 0xfe]))).toThrow(/not valid JSON/);
  });
  it('checks names', () => {
    expect(code(() => assertAppName('my-blog2'))).toBe('no error');
    expect(code(() => assertAppName('api'))).toBe('RESERVED_NAME');
    expect(code(() => assertAppName('-x'))).toBe('INVALID_NAME');
    expect(code(() => assertAppName('a'.repeat(64)))).toBe('INVALID_NAME');
  });
});

describe('hybrid logical clock', () => {
  it('is monotonic when the wall clock stalls or goes back, and sorts as strings', () => {
    let wall = 1000;
    const hlc = new HybridLogicalClock('n1', { now: () => wall });
    const a = hlc.now();
    const b = hlc.now();
    wall = 500;
    const c = hlc.now();
    expect([a, b, c].sort()).toEqual([a, b, c]);
    expect(decodeHlc(c)).toMatchObject({ ms: 1000, counter: 2, node: 'n1' });
  });
  it('moves past a received timestamp and refuses one from the far future', () => {
    const wall = 1000;
    const hlc = new HybridLogicalClock('n1', { now: () => wall }, 60_000);
    const peer = new HybridLogicalClock('n2', { now: () => 5000 });
    const remote = peer.now();
    hlc.receive(remote);
    expect(hlc.now() > remote).toBe(true);
    const liar = new HybridLogicalClock('n3', { now: () => 10_000_000 }).now();
    expect(() => hlc.receive(liar)).toThrow(/ahead: refused/);
  });
});

describe('HTTP helpers', () => {
  it('parses byte ranges per RFC 9110', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=0-10737418240', 100)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined();
    expect(parseRange('items=0-1', 100)).toBeUndefined();
    expect(parseRange('bytes=5-1', 100)).toBeUndefined();
  });
  it('recognizes fingerprinted asset names', () => {
    for (const f of ['app.3f9c2b1a.js', 'assets/index-B1a2c3D4.js', 'main.0123456789abcdef0123.css', 'chunk-5f3e9a1b.js.map']) expect(isFingerprinted(f), f).toBe(true);
    for (const f of ['index.html', 'photo-20240101.jpg', 'jquery.min.js', 'bootstrap.bundle.js', 'style.css']) expect(isFingerprinted(f), f).toBe(false);
  });
});

describe('login rate limiter', () => {
  it('blocks a source after too many failures until the window ends; other sources are never blocked', () => {
    let now = 0;
    const l = new LoginRateLimiter(3, 1000, () => now);
    for (let i = 0; i < 3; i++) l.fail('a');
    expect(l.retryAfter('a')).toBe(1);
    expect(l.retryAfter('b')).toBe(0);
    for (let i = 0; i < 50; i++) l.fail(`10.0.0.${i}`);
    expect(l.retryAfter('d')).toBe(0); // no node-wide lock-out
    now = 1001;
    expect(l.retryAfter('a')).toBe(0);
  });
  it('keys IPv6 sources by /64 and IPv4-mapped addresses as IPv4', () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:0db8:0001:0002::/64');
    expect(sourceKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:0db8:0001:0002::/64');
    expect(sourceKey('[2001:DB8:1:2::9%eth0]')).toBe('2001:0db8:0001:0002::/64');
    expect(sourceKey('::1')).toBe('0000:0000:0000:0000::/64');
    expect(sourceKey('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(sourceKey('203.0.113.7')).toBe('203.0.113.7');
    expect(sourceKey('unknown')).toBe('unknown');
    const l = new LoginRateLimiter(2, 1000, () => 0);
    l.fail('2001:db8:1:2::1');
    l.fail('2001:db8:1:2::2');
    expect(l.retryAfter('2001:db8:1:2::3')).toBeGreaterThan(0);
    expect(l.retryAfter('2001:db8:1:3::1')).toBe(0);
  });
  it('reads one-time login codes as typed: any case, dashes and spaces, Crockford look-alikes', () => {
    expect(normalizeLoginCode('abcd-efgh-jkmn-pqrs')).toBe('ABCDEFGHJKMNPQRS');
    expect(normalizeLoginCode(' 0O1I L  ')).toBe('00111');
  });
  it('stays bounded in memory', () => {
    const l = new LoginRateLimiter(2, 1000, () => 0, 100);
    for (let i = 0; i < 1000; i++) l.fail(`10.0.${i >> 8}.${i & 255}`);
    l.fail('10.9.9.9');
    l.fail('10.9.9.9');
    expect(l.retryAfter('10.9.9.9')).toBeGreaterThan(0);
  });
});
