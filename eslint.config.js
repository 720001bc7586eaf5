// ESLint flat config: the seam between the kernel (shared/) and its hosts (node/, sw/, web/).
// Only boundary rules, no type-aware ones, so `npm run lint` stays fast. See docs/architecture.md.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

/** Node's built-in modules by their bare names (`fs`, `fs/promises` …); `node:*` is a pattern below. */
const NODE_BUILTIN_PATHS = builtinModules.map((name) => ({
  name,
  message: 'shared/ runs in a service worker too: no Node built-ins. Ask the host through a port (shared/ports.ts).',
}));

/** `shared/` runs unchanged in Node 20 and in a service worker: no host modules, no DOM. */
const SHARED_IMPORT_BANS = [
  { group: ['node:*'], message: 'shared/ runs in a service worker too: no Node built-ins. Ask the host through a port (shared/ports.ts).' },
  { group: ['express', 'express/*', 'better-sqlite3', 'better-sqlite3/*'], message: 'shared/ is host-neutral: Node-only packages belong in node/.' },
  { group: ['lit', 'lit/*', 'comlink', 'comlink/*'], message: 'shared/ has no DOM: page code belongs in web/.' },
  { group: ['**/node/*', '**/node/**', '**/sw/*', '**/sw/**', '**/web/*', '**/web/**'], message: 'shared/ imports nothing from a host folder (node/, sw/, web/): the hosts import the kernel, not the other way round.' },
];

/** Globals a service worker lacks (DOM) or Node-only ones. */
const SHARED_GLOBAL_BANS = ['window', 'document', 'localStorage', 'sessionStorage', 'customElements', 'HTMLElement', 'process', 'Buffer', '__dirname', '__filename', 'require'].map((name) => ({
  name,
  message: `shared/ runs in Node and in a service worker: "${name}" is not in both. Use the web platform APIs both have, or a port.`,
}));

/** Hosts reach a kernel folder through its face (`shared/<folder>/index.ts`) or a top-level `shared/*.ts` file. */
const HOST_IMPORT_BANS = [
  {
    group: ['**/shared/*/*', '!**/shared/*/index.js', '**/shared/*/*/**'],
    message: 'Import a kernel folder through its face, shared/<folder>/index.js (or shared/index.js); export what you need there.',
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'public/**', 'examples/**', 'test-results/**', 'playwright-report/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 2023, sourceType: 'module' },
    // registered (not enabled) so the code's existing `eslint-disable` comments for editors resolve
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'off' },
  },
  {
    files: ['shared/**/*.ts'],
    ignores: ['shared/**/*.test.ts', 'shared/testing/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: NODE_BUILTIN_PATHS, patterns: SHARED_IMPORT_BANS }],
      'no-restricted-globals': ['error', ...SHARED_GLOBAL_BANS],
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportExpression > Literal[value=/^(node:|express$|better-sqlite3$)|\\/(node|sw|web)\\//]",
          message: 'shared/ loads no host module, not even lazily.',
        },
      ],
    },
  },
  {
    files: ['node/**/*.ts', 'sw/**/*.ts', 'web/**/*.ts', 'e2e/**/*.ts', 'bench/**/*.ts'],
    ignores: ['**/*.test.ts', 'e2e/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: HOST_IMPORT_BANS }] },
  },
);
