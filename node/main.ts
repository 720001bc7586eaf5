import { main } from './cli.js';

/** Entry of the bundled CLI (`dist/fazt.mjs`). */
await main();
