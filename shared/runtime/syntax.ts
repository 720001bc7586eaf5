import { parse, type Node } from 'acorn';
import { isFaztError } from '../errors.js';

/**
 * Deploy-time check of server code with acorn (the standard ECMAScript parser; QuickJS runs the
 * same ES2023 language). Parsing on the host keeps deploys away from the sandboxes entirely.
 */

/** A node with a module specifier (`import … from 'x'`, `export … from 'x'`, `import('x')` with a literal). */
interface SourceNode extends Node {
  source?: { value?: unknown } | null;
}

/**
 * Parses `source` and resolves its static imports.
 * @param resolve resolves a specifier; throws FaztError when it cannot.
 * @returns `undefined` when fine, else `"<path>:<line>:<col>: SyntaxError: <message>"` or the
 *   resolution error naming the specifier.
 */
export function checkModuleSyntax(path: string, source: string, isModule: boolean, resolve: (spec: string) => void): string | undefined {
  let ast: Node & { body: SourceNode[] };
  try {
    ast = parse(source, {
      ecmaVersion: 'latest',
      sourceType: isModule ? 'module' : 'script',
      allowReturnOutsideFunction: !isModule,
      allowHashBang: true,
      locations: true,
    }) as Node & { body: SourceNode[] };
  } catch (e) {
    const err = e as SyntaxError & { loc?: { line: number; column: number } };
    const message = err.message.replace(/\s*\(\d+:\d+\)$/, '');
    return `${path}${err.loc ? `:${err.loc.line}:${err.loc.column + 1}` : ''}: SyntaxError: ${message}`;
  }
  if (!isModule) return undefined;
  for (const node of ast.body) {
    const spec = node.source?.value;
    if ((node.type === 'ImportDeclaration' || node.type === 'ExportNamedDeclaration' || node.type === 'ExportAllDeclaration') && typeof spec === 'string') {
      try {
        resolve(spec);
      } catch (e) {
        if (isFaztError(e)) return `${path}: ${e.message}`;
        throw e;
      }
    }
  }
  return undefined;
}
