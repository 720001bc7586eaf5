import mime from 'mime/lite';

/**
 * MIME types for static files, from the `mime` package's standard table (IANA + Apache mime.types).
 * @see https://github.com/broofa/mime
 */

const UTF8 = /^(text\/|application\/(javascript|json|xml|manifest\+json|ld\+json|xhtml\+xml|rss\+xml|atom\+xml)|image\/svg\+xml)/;

/** `Content-Type` for a file path, with `charset=utf-8` for text types; `application/octet-stream` when unknown. */
export function contentTypeFor(path: string): string {
  const type = mime.getType(path) ?? 'application/octet-stream';
  return UTF8.test(type) ? `${type}; charset=utf-8` : type;
}

/** True when a type benefits from gzip/brotli (text, JSON, JS, SVG, WASM, uncompressed fonts). */
export function isCompressible(contentType: string): boolean {
  return (
    /^(text\/|image\/svg\+xml|image\/x-icon|image\/vnd\.microsoft\.icon|image\/bmp|application\/(javascript|json|xml|wasm|manifest\+json|ld\+json|xhtml\+xml|rss\+xml|atom\+xml|x-font-ttf|vnd\.ms-fontobject)|font\/(ttf|otf))/.test(
      contentType,
    )
  );
}
