import { FaztError, isFaztError } from '../errors.js';

/**
 * Turning what the AI SDK and the providers throw into the kernel's stable codes (docs/ai.md):
 * `AI_AUTH` (401/403), `AI_RATE_LIMITED` (429, with `retryAfterSeconds`), `AI_MODEL_NOT_FOUND`
 * (404, unknown model), `AI_UNAVAILABLE` (cannot connect, 5xx, timeout), `AI_STREAM_INTERRUPTED`,
 * `AI_OUTPUT_INVALID`, and `INVALID_ARGUMENT` for a request the provider refused (400).
 * Messages never contain the key: provider bodies are cut to their `message` text.
 */

/** What the call was, for the messages. */
export interface CallFacts {
  /** `provider/model`. */
  model: string;
  /** The provider's kind. */
  kind: string;
  /** The timeout that applied, ms. */
  timeoutMs: number;
}

interface ApiErrorLike {
  name?: string;
  message?: string;
  statusCode?: number;
  responseHeaders?: Record<string, string>;
  responseBody?: string;
  cause?: unknown;
  lastError?: unknown;
  errors?: unknown[];
}

/** Seconds of a `retry-after` header (RFC 9110 §10.2.3: seconds or an HTTP date), or undefined. */
export function retryAfterSeconds(headers: Record<string, string> | undefined, now = Date.now()): number | undefined {
  const v = headers?.['retry-after'] ?? headers?.['Retry-After'];
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The provider's own error text, from a JSON body (`error.message`, `error`, `message`), cut to 300 characters. */
function providerText(e: ApiErrorLike): string {
  let t = '';
  try {
    const b = JSON.parse(e.responseBody ?? '');
    t = b?.error?.message ?? (typeof b?.error === 'string' ? b.error : '') ?? b?.message ?? '';
  } catch {
    /* not JSON */
  }
  t = String(t || e.message || '').replace(/\s+/g, ' ').trim();
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
}

const isAbort = (e: unknown): boolean => {
  const n = (e as { name?: string })?.name;
  return n === 'AbortError' || n === 'TimeoutError' || (n === 'APICallError' && isAbort((e as ApiErrorLike).cause));
};

/**
 * The kernel's error for a failed AI call.
 * @param e what the SDK threw (or a FaztError, returned as it is).
 */
export function aiError(e: unknown, f: CallFacts): FaztError {
  if (isFaztError(e)) return e;
  let err = e as ApiErrorLike;
  // RetryError wraps the last attempt's error
  if (err?.name === 'AI_RetryError' && err.lastError) err = err.lastError as ApiErrorLike;
  const name = err?.name ?? '';
  if (isAbort(err)) return new FaztError('AI_UNAVAILABLE', `${f.model} did not answer within ${f.timeoutMs} ms; the provider may be down or overloaded. Try again, or choose another model.`);
  if (name === 'AI_NoSuchModelError') return new FaztError('AI_MODEL_NOT_FOUND', `${f.model}: the provider has no such model.`);
  if (name === 'AI_NoObjectGeneratedError') return new FaztError('AI_OUTPUT_INVALID', `${f.model} answered with something that does not match the schema: ${String(err.message).slice(0, 300)}`);
  if (name === 'AI_APICallError' || typeof err?.statusCode === 'number') {
    const s = err.statusCode;
    const text = providerText(err);
    if (s === 401 || s === 403) return new FaztError('AI_AUTH', `${f.model}: the provider refused the key (HTTP ${s}: ${text}). The owner sets a new key with \`fazt ai provider set ${f.model.split('/')[0]} --key-stdin\`.`);
    if (s === 429) {
      const ra = retryAfterSeconds(err.responseHeaders);
      return new FaztError('AI_RATE_LIMITED', `${f.model}: the provider says too many requests${ra !== undefined ? `; try again in ${ra} s` : '; try again later'} (${text}).`, ra !== undefined ? { retryAfterSeconds: ra } : undefined);
    }
    if (s === 404) return new FaztError('AI_MODEL_NOT_FOUND', `${f.model}: the provider does not know this model (HTTP 404: ${text}). \`fazt ai provider list\` shows the configured default models.`);
    if (s === 400 || s === 422) {
      if (/model/i.test(text) && /not (found|exist)|unknown|invalid model|does not exist/i.test(text)) return new FaztError('AI_MODEL_NOT_FOUND', `${f.model}: ${text}`);
      return new FaztError('INVALID_ARGUMENT', `${f.model} refused the request (HTTP ${s}): ${text}`);
    }
    if (s === undefined) return new FaztError('AI_UNAVAILABLE', `${f.model}: cannot reach the provider (${connectCause(err)}). Is it running, and is its base URL right?`);
    return new FaztError('AI_UNAVAILABLE', `${f.model}: the provider failed (HTTP ${s}: ${text}). Try again later, or choose another model.`);
  }
  if (name === 'TypeError' && /fetch failed|terminated|network/i.test(String(err.message))) return new FaztError('AI_UNAVAILABLE', `${f.model}: cannot reach the provider (${connectCause(err)}).`);
  return new FaztError('AI_UNAVAILABLE', `${f.model} failed: ${String(err?.message ?? e).slice(0, 300)}`);
}

function connectCause(e: ApiErrorLike): string {
  let c: unknown = e;
  for (let i = 0; i < 4 && c; i++) {
    const code = (c as { code?: string }).code;
    if (code) return code;
    c = (c as ApiErrorLike).cause;
  }
  return String(e.message ?? 'connection failed').slice(0, 120);
}
