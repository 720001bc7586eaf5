import { isFaztError } from '../errors.js';
import type { Logger } from '../ports.js';

/**
 * Retry policy shared by the scheduler and the event bus: exponential backoff, and failures that
 * no retry can fix.
 */

/** Longest wait between two attempts, ms (1 day). */
export const MAX_RETRY_DELAY_MS = 24 * 3600_000;

/** Error codes that retrying cannot fix: the run or delivery fails at once. */
const PERMANENT_ERRORS = new Set(['NO_HANDLER', 'APP_NOT_FOUND']);

/** A logger that drops everything (the default of background services). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/** Wait before retry `attempt` (1-based), ms: `baseMs · 2^(attempt−1)`, capped at {@link MAX_RETRY_DELAY_MS}. */
export function retryDelay(baseMs: number, attempt: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** (attempt - 1));
}

/** How a failed invocation is recorded: `"CODE: message"` (≤ 2,000 chars), and whether retrying is pointless. */
export function describeFailure(e: unknown): { message: string; permanent: boolean } {
  const code = isFaztError(e) ? e.code : undefined;
  const text = e instanceof Error ? e.message : String(e);
  return { message: (code ? `${code}: ${text}` : text).slice(0, 2000), permanent: code !== undefined && PERMANENT_ERRORS.has(code) };
}
