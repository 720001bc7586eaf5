import { Validator, type OutputUnit, type Schema } from '@cfworker/json-schema';
import { FaztError } from '../errors.js';

/**
 * Payload schemas of `app.json` `events.emits` (JSON Schema draft 2020-12), checked with
 * `@cfworker/json-schema` (no code generation, so it runs in a service worker too).
 */

/** Keywords whose errors only summarize deeper ones; dropped from messages when deeper errors exist. */
const SUMMARY_KEYWORDS = new Set(['properties', 'items', 'prefixItems', 'additionalItems', 'patternProperties', '$ref', '$dynamicRef', 'allOf', 'dependentSchemas', 'unevaluatedProperties', 'unevaluatedItems', 'false']);

/**
 * Compiles a payload schema.
 * @param where how to name the schema in errors (`events.emits["note.created"]`).
 * @throws FaztError `INVALID_MANIFEST` when the schema cannot be used (e.g. an unresolvable `$ref`).
 */
export function compilePayloadSchema(schema: unknown, where: string): Validator {
  try {
    const v = new Validator(schema as Schema | boolean, '2020-12', false);
    v.validate(null); // resolves references now, so a broken schema fails here and not at emit time
    return v;
  } catch (e) {
    throw new FaztError('INVALID_MANIFEST', `app.json ${where} is not a usable JSON Schema: ${(e as Error).message.split('\n')[0]}`);
  }
}

/**
 * Checks every payload schema of a manifest's `events.emits`, so deploy can reject unusable ones
 * before committing.
 * @throws FaztError `INVALID_MANIFEST` naming the first unusable schema.
 */
export function validateEventSchemas(events: { emits?: Record<string, unknown> } | undefined): void {
  for (const [type, schema] of Object.entries(events?.emits ?? {})) compilePayloadSchema(schema, `events.emits["${type}"]`);
}

/** Formats the first validation errors as `#/path: message` (summary errors left out). */
export function formatSchemaErrors(errors: readonly OutputUnit[], max = 3): string {
  const specific = errors.filter((e) => !SUMMARY_KEYWORDS.has(e.keyword));
  const shown = (specific.length ? specific : errors).slice(0, max).map((e) => `${e.instanceLocation}: ${e.error.replace(/\.$/, '')}`);
  const more = (specific.length || errors.length) - shown.length;
  return shown.join('; ') + (more > 0 ? ` (and ${more} more)` : '');
}

/**
 * Validates an event payload.
 * @throws FaztError `INVALID_ARGUMENT`: `event "x" payload does not match its schema: #/title: …`.
 */
export function checkPayload(validator: Validator, type: string, payload: unknown): void {
  const r = validator.validate(payload);
  if (!r.valid) throw new FaztError('INVALID_ARGUMENT', `event "${type}" payload does not match its schema: ${formatSchemaErrors(r.errors)}`);
}
