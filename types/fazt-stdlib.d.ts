/*
 * Optional companion of fazt.d.ts: loose (`any`) declarations of the bundled standard library modules,
 * so `require('lodash')` / `import { z } from 'zod'` type-check in an app folder where the packages are
 * not installed. TypeScript reports "Cannot find module" for an unresolvable `require`/`import` even in
 * checked JavaScript, and `declare function require` in fazt.d.ts does not change that.
 *
 * Leave this file out if you install the packages' own types instead (`npm i -D zod dayjs uuid
 * node-html-parser lodash @types/lodash`, same versions as `dist/stdlib/manifest.json`): these ambient
 * declarations take precedence over installed packages and would turn their types into `any`.
 */

/** lodash (CommonJS: `module.exports` is the `_` function). */
declare module 'lodash';
/** dayjs (CommonJS: `module.exports` is the `dayjs` function; no plugins or extra locales bundled). */
declare module 'dayjs';
/** uuid: `v1`, `v3`, `v4`, `v5`, `v6`, `v7`, `validate`, `version`, `parse`, `stringify`, `NIL`, `MAX`, … */
declare module 'uuid';
/** zod (the classic API, v4): `z`, and every export of `zod` as named exports. */
declare module 'zod';
/** node-html-parser: `parse`, `valid`, `HTMLElement`, `TextNode`, `CommentNode`, `Node`, `NodeType`. */
declare module 'node-html-parser';
