/** The `ggwave` package (0.4, no types of its own): its default export is the emscripten module factory. */
declare module 'ggwave' {
  const factory: import('../../shared/mesh/index.js').GgwaveFactory;
  export default factory;
}
