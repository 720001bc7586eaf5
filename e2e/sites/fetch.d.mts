// Types for fetch.mjs (plain JavaScript so that `node e2e/sites/fetch.mjs` runs without a build).

export declare const CACHE_DIR: string;
export declare const TARBALL_DIR: string;
export declare const SITES_DIR: string;

export interface PinnedPackage {
  spec: string;
  file: string;
  integrity: string;
}
export declare const PACKAGES: Record<'drawio' | 'paper' | 'chocolat' | 'glightbox', PinnedPackage>;

export interface SiteSpec {
  name: string;
  title: string;
  pkg: keyof typeof PACKAGES;
  dir: string;
  entry: string;
  media?: boolean;
}
export declare const SITES: SiteSpec[];

export declare const VIDEO: { file: string; size: number; duration: number; width: number; height: number };
export declare const BIG_PNG: { file: string; width: number; height: number };
export declare const BIG_BMP: { file: string; width: number; height: number };

export declare function fetchTarball(key: keyof typeof PACKAGES): string;
export declare function writeBigPng(file: string, w: number, h: number): void;
export declare function writeBigBmp(file: string, w: number, h: number): void;
/** Makes sure every site is extracted under e2e/.cache/sites/<name>/; returns name -> absolute dir. */
export declare function fetchSites(options?: { force?: boolean }): Record<string, string>;
