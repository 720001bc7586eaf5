/**
 * Host-side preparation of an app's HTML, CSS and ES modules for a frame. Every reference to a
 * file of the app becomes either a token (`TOKEN_OPEN + appUrl + TOKEN_CLOSE`, replaced inside the
 * frame by a blob URL the frame created itself) or, in modules, an absolute app URL that the
 * frame's import map maps onto a blob URL. Parsing only: DOMParser documents run no script and
 * load nothing, es-module-lexer only lexes.
 */
import { parse as parseModule } from 'es-module-lexer/js';
import { IMPORT_MAP_MARKER, TOKEN_CLOSE, TOKEN_OPEN, type AssetKind, type AssetRef, type PageResult } from './protocol.js';

/** A rewritten text and what it refers to. */
export interface Rewritten {
  text: string;
  deps: AssetRef[];
}

/** Collects deps without duplicates. */
class Deps {
  readonly list: AssetRef[] = [];
  private seen = new Set<string>();
  add(url: string, kind: AssetKind): void {
    const key = `${kind} ${url}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push({ url, kind });
  }
}

/**
 * Resolves a reference against `base`; returns the absolute URL split at `#` when it points into
 * the app (`origin`), else null (data:, blob:, fragments, other origins stay as they are).
 */
export function appRef(ref: string, base: string, origin: string): { url: string; hash: string } | null {
  const r = ref.trim();
  if (!r || r.startsWith('#') || r.startsWith(TOKEN_OPEN) || /^(data|blob|javascript|about|mailto|tel):/i.test(r)) return null;
  let u: URL;
  try {
    u = new URL(r, base);
  } catch {
    return null;
  }
  if (u.origin !== origin) return null;
  const hash = u.hash;
  u.hash = '';
  return { url: u.href, hash };
}

/** A token standing for the app file at `url`. */
export function token(url: string): string {
  return TOKEN_OPEN + url + TOKEN_CLOSE;
}

const CSS_IMPORT = /@import\s+(?:url\(\s*)?(["']?)([^"')\s;]+)\1\s*\)?/g;
const CSS_URL = /url\(\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|([^)'"\s]*))\s*\)/g;

/** Rewrites a stylesheet's `@import` and `url()` references to app files (relative to `cssUrl`). */
export function rewriteCss(css: string, cssUrl: string, origin: string, deps = new Deps()): Rewritten {
  let text = css.replace(CSS_IMPORT, (m, _q: string, ref: string) => {
    const r = appRef(ref, cssUrl, origin);
    if (!r) return m;
    deps.add(r.url, 'css');
    return `@import url("${token(r.url)}")`;
  });
  text = text.replace(CSS_URL, (m, d?: string, s?: string, bare?: string) => {
    const ref = d ?? s ?? bare ?? '';
    const r = appRef(ref.replace(/\\(.)/g, '$1'), cssUrl, origin);
    if (!r) return m;
    deps.add(r.url, 'raw');
    return `url("${token(r.url)}${r.hash}")`;
  });
  return { text, deps: deps.list };
}

/** True for a specifier resolved as a URL (not a bare name for an import map). */
function urlLike(spec: string): boolean {
  return /^(\.{0,2}\/)/.test(spec) || /^[a-z][a-z0-9+.-]*:/i.test(spec);
}

/**
 * Rewrites an ES module at `moduleUrl`: static specifiers that point into the app become absolute
 * app URLs (the frame's import map maps them), `import(x)` becomes `__faztImport(x, moduleUrl)`
 * (the frame loads the module on demand), `import.meta` gets the module's app URL. Source that
 * does not lex is returned unchanged (the browser reports the syntax error).
 */
export function rewriteModule(code: string, moduleUrl: string, origin: string, deps = new Deps()): Rewritten {
  let imports: ReturnType<typeof parseModule>[0];
  try {
    [imports] = parseModule(code);
  } catch {
    return { text: code, deps: deps.list };
  }
  const meta = `({url:${JSON.stringify(moduleUrl)},resolve:(s)=>new URL(s,${JSON.stringify(moduleUrl)}).href})`;
  const edits: { start: number; end: number; text: string }[] = [];
  for (const imp of imports) {
    if (imp.d === -2) {
      edits.push({ start: imp.s, end: imp.e, text: meta });
    } else if (imp.d >= 0) {
      // import(expr[, options]) → globalThis.__faztImport(expr, moduleUrl[, options])
      edits.push({ start: imp.ss, end: imp.ss + 'import'.length, text: 'globalThis.__faztImport' });
      edits.push({ start: imp.e, end: imp.e, text: `, ${JSON.stringify(moduleUrl)}` });
    } else if (imp.n !== undefined && urlLike(imp.n)) {
      const r = appRef(imp.n, moduleUrl, origin);
      if (!r) continue;
      deps.add(r.url, 'module');
      edits.push({ start: imp.s, end: imp.e, text: r.url + r.hash });
    }
  }
  edits.sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += code.slice(at, e.start) + e.text;
    at = e.end;
  }
  return { text: out + code.slice(at), deps: deps.list };
}

/** `<link rel>` values whose target the frame loads, and how. */
function linkKind(rel: string): AssetKind | null {
  const rels = rel.toLowerCase().split(/\s+/);
  if (rels.includes('stylesheet')) return 'css';
  if (rels.includes('modulepreload')) return 'module';
  if (rels.some((r) => ['icon', 'apple-touch-icon', 'preload', 'prefetch', 'mask-icon'].includes(r))) return 'raw';
  return null;
}

/** Element attributes holding one URL of a file the page loads (not links: those navigate). */
const URL_ATTRS: [selector: string, attr: string][] = [
  ['img[src]', 'src'],
  ['source[src]', 'src'],
  ['video[src]', 'src'],
  ['video[poster]', 'poster'],
  ['audio[src]', 'src'],
  ['track[src]', 'src'],
  ['input[src]', 'src'],
  ['embed[src]', 'src'],
  ['object[data]', 'data'],
  ['image[href]', 'href'],
  ['use[href]', 'href'],
  ['feImage[href]', 'href'],
];

/** Rewrites a `srcset` value. */
function rewriteSrcset(value: string, base: string, origin: string, deps: Deps): string {
  return value.replace(/(^|,)(\s*)([^\s,][^\s]*?)(?=\s|,|$)/g, (m, sep: string, ws: string, ref: string) => {
    const r = appRef(ref, base, origin);
    if (!r) return m;
    deps.add(r.url, 'raw');
    return sep + ws + token(r.url) + r.hash;
  });
}

/** JavaScript MIME types (and the empty type) of classic scripts. */
function isClassicScript(type: string): boolean {
  const t = type.trim().toLowerCase();
  return t === '' || /^(text|application)\/(x-)?(java|ecma)script$/.test(t) || t === 'text/jscript' || t === 'text/livescript';
}

/**
 * Prepares an app page for a frame: a `<base href>` with the page's app URL first in `<head>`
 * (so relative URLs, `document.baseURI` and forms resolve inside the app), the import-map marker
 * after it, the app's own import maps merged into {@link PageResult.importMap}, and every file
 * reference (scripts, stylesheets, images, media, inline styles and inline modules) rewritten.
 * Links and forms keep their URLs: the frame's runtime turns their navigation into a new page.
 */
export function rewriteHtml(html: string, pageUrl: string, origin: string, status = 200): PageResult {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const deps = new Deps();
  // The document's base: the app's own <base href> (resolved against the page) or the page itself.
  let base = pageUrl;
  const appBase = doc.querySelector('base[href]')?.getAttribute('href');
  if (appBase) {
    try {
      base = new URL(appBase, pageUrl).href;
    } catch {
      // an unparsable base is ignored, as a browser does
    }
  }
  for (const b of Array.from(doc.querySelectorAll('base'))) b.remove();
  const head = doc.head;
  const baseEl = doc.createElement('base');
  baseEl.setAttribute('href', base);
  head.prepend(baseEl, doc.createComment(IMPORT_MAP_MARKER.slice(4, -3)));

  const importMap: PageResult['importMap'] = { imports: {} };
  const mapValue = (v: unknown): string | null => {
    if (typeof v !== 'string') return null;
    const r = appRef(v, base, origin);
    if (!r) return v;
    deps.add(r.url, 'module');
    return token(r.url);
  };
  for (const s of Array.from(doc.querySelectorAll('script[type="importmap"]'))) {
    try {
      const m = JSON.parse(s.textContent ?? '{}') as { imports?: Record<string, unknown>; scopes?: Record<string, Record<string, unknown>> };
      for (const [k, v] of Object.entries(m.imports ?? {})) {
        const mv = mapValue(v);
        if (mv !== null) importMap.imports[k] = mv;
      }
      for (const [scope, entries] of Object.entries(m.scopes ?? {})) {
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(entries ?? {})) {
          const mv = mapValue(v);
          if (mv !== null) out[k] = mv;
        }
        (importMap.scopes ??= {})[scope] = out;
      }
    } catch {
      // a malformed import map is ignored, as a browser does
    }
    s.remove();
  }

  for (const s of Array.from(doc.querySelectorAll('script'))) {
    const type = s.getAttribute('type') ?? '';
    const isModule = type.trim().toLowerCase() === 'module';
    if (!isModule && !isClassicScript(type)) continue;
    const src = s.getAttribute('src');
    if (src !== null) {
      const r = appRef(src, base, origin);
      if (!r) continue;
      deps.add(r.url, isModule ? 'module' : 'raw');
      s.setAttribute('src', token(r.url));
      // Integrity hashes of the original bytes cannot match the rewritten module.
      if (isModule) s.removeAttribute('integrity');
    } else if (isModule) {
      s.textContent = rewriteModule(s.textContent ?? '', base, origin, deps).text;
    }
  }
  for (const l of Array.from(doc.querySelectorAll('link[href]'))) {
    const kind = linkKind(l.getAttribute('rel') ?? '');
    if (!kind) continue;
    const r = appRef(l.getAttribute('href') ?? '', base, origin);
    if (!r) continue;
    deps.add(r.url, kind);
    l.setAttribute('href', token(r.url) + r.hash);
    if (kind !== 'raw') l.removeAttribute('integrity');
  }
  for (const [selector, attr] of URL_ATTRS) {
    for (const el of Array.from(doc.querySelectorAll(selector))) {
      const r = appRef(el.getAttribute(attr) ?? '', base, origin);
      if (!r) continue;
      deps.add(r.url, 'raw');
      el.setAttribute(attr, token(r.url) + r.hash);
    }
  }
  for (const el of Array.from(doc.querySelectorAll('[xlink\\:href], use, image'))) {
    const v = el.getAttributeNS('http://www.w3.org/1999/xlink', 'href');
    if (v === null) continue;
    const r = appRef(v, base, origin);
    if (!r) continue;
    deps.add(r.url, 'raw');
    el.setAttributeNS('http://www.w3.org/1999/xlink', 'xlink:href', token(r.url) + r.hash);
  }
  for (const el of Array.from(doc.querySelectorAll('img[srcset], source[srcset]'))) {
    el.setAttribute('srcset', rewriteSrcset(el.getAttribute('srcset') ?? '', base, origin, deps));
  }
  for (const st of Array.from(doc.querySelectorAll('style'))) {
    st.textContent = rewriteCss(st.textContent ?? '', base, origin, deps).text;
  }
  for (const el of Array.from(doc.querySelectorAll('[style]'))) {
    el.setAttribute('style', rewriteCss(el.getAttribute('style') ?? '', base, origin, deps).text);
  }
  const doctype = doc.doctype ? `<!DOCTYPE ${doc.doctype.name}>\n` : '';
  return { url: pageUrl, status, html: doctype + doc.documentElement.outerHTML, deps: deps.list, importMap };
}

/** A page for a file that is not HTML (an image, text, JSON…) or for an error, shown in the frame. */
export function filePage(pageUrl: string, status: number, contentType: string, text: string | null): PageResult {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const name = decodeURIComponent(new URL(pageUrl).pathname);
  let body: string;
  const deps: AssetRef[] = [];
  if (/^(image|video|audio)\//.test(contentType) && status < 400) {
    deps.push({ url: pageUrl, kind: 'raw' });
    const tag = contentType.startsWith('image/') ? `<img src="${token(pageUrl)}" alt="${esc(name)}" style="max-width:100%">` : `<${contentType.slice(0, 5)} controls src="${token(pageUrl)}"></${contentType.slice(0, 5)}>`;
    body = tag;
  } else if (text !== null) {
    body = `<pre style="white-space:pre-wrap;word-break:break-word">${esc(text)}</pre>`;
  } else {
    body = `<p>${esc(name)} (${esc(contentType || 'unknown type')}) cannot be shown here.</p>`;
  }
  const title = status >= 400 ? `${status} ${esc(name)}` : esc(name);
  return {
    url: pageUrl,
    status,
    html: `<!DOCTYPE html><html><head><base href="${esc(pageUrl)}">${IMPORT_MAP_MARKER}<meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head><body style="font:16px system-ui,sans-serif;margin:1rem">${body}</body></html>`,
    deps,
    importMap: { imports: {} },
  };
}
