/** `import text from './file.js?raw'`: the file's text (vite/vitest natively; esbuild via a plugin in scripts/build.mjs). */
declare module '*?raw' {
  const text: string;
  export default text;
}
