/** Fazt's version (package.json), defined by vite.config.ts. */
declare const __FAZT_VERSION__: string;
