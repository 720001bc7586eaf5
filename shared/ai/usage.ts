import { FaztError } from '../errors.js';
import type { Cartridge } from '../cartridge/index.js';

/**
 * AI usage per app and UTC month (`ai_usage`) and the owner's caps (`ai_budgets`). The owner's own
 * calls (CLI, dashboard) count under the app id `''` and have no cap.
 */

/** Usage of one app in one month. */
export interface AiUsage {
  /** The app's id; `''` for the owner's own calls. */
  appId: string;
  /** UTC month, `YYYY-MM`. */
  period: string;
  /** Model calls begun (each `generateText`, `streamText`, `generateObject`, `embed`). */
  calls: number;
  /** Prompt tokens, as the providers reported them. */
  inputTokens: number;
  /** Completion tokens, as the providers reported them. */
  outputTokens: number;
  /** Calls that failed. */
  errors: number;
  /** Last call, ms since epoch, or `null`. */
  lastAt: number | null;
}

/** An app's monthly caps; `null`: no cap on that measure. */
export interface AiBudget {
  /** Input + output tokens per UTC month. */
  tokensPerMonth: number | null;
  /** Calls per UTC month. */
  callsPerMonth: number | null;
}

/** `YYYY-MM` of `ms` in UTC. */
export function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** Usage and budgets in the cartridge. */
export class UsageStore {
  constructor(private readonly cart: Cartridge) {}

  private get db() {
    return this.cart.db;
  }

  /** Counts a call begun now. */
  begin(appId: string): void {
    const now = this.cart.clock.now();
    this.db.run(
      `INSERT INTO ai_usage (app_id, period, calls, last_at) VALUES (?, ?, 1, ?)
       ON CONFLICT(app_id, period) DO UPDATE SET calls = calls + 1, last_at = excluded.last_at`,
      [appId, monthOf(now), now],
    );
  }

  /** Adds the tokens a call used (and an error, when it failed). */
  record(appId: string, tokens: { inputTokens?: number; outputTokens?: number }, failed = false): void {
    const now = this.cart.clock.now();
    const i = Math.max(0, Math.floor(tokens.inputTokens ?? 0)) || 0;
    const o = Math.max(0, Math.floor(tokens.outputTokens ?? 0)) || 0;
    this.db.run(
      `INSERT INTO ai_usage (app_id, period, calls, input_tokens, output_tokens, errors, last_at) VALUES (?, ?, 0, ?, ?, ?, ?)
       ON CONFLICT(app_id, period) DO UPDATE SET input_tokens = input_tokens + excluded.input_tokens,
         output_tokens = output_tokens + excluded.output_tokens, errors = errors + excluded.errors, last_at = excluded.last_at`,
      [appId, monthOf(now), i, o, failed ? 1 : 0, now],
    );
  }

  /** Usage in `period` (default: this month), of one app or of all, most tokens first. */
  usage(appId?: string, period = monthOf(this.cart.clock.now())): AiUsage[] {
    const rows = this.db.query<{ app_id: string; period: string; calls: number; input_tokens: number; output_tokens: number; errors: number; last_at: number | null }>(
      `SELECT * FROM ai_usage WHERE period = ? ${appId === undefined ? '' : 'AND app_id = ?'} ORDER BY input_tokens + output_tokens DESC, app_id`,
      appId === undefined ? [period] : [period, appId],
    );
    return rows.map((r) => ({ appId: r.app_id, period: r.period, calls: r.calls, inputTokens: r.input_tokens, outputTokens: r.output_tokens, errors: r.errors, lastAt: r.last_at }));
  }

  /** The app's budget (both `null` when the owner set none). */
  budget(appId: string): AiBudget {
    const r = this.db.get<{ tokens_per_month: number | null; calls_per_month: number | null }>('SELECT tokens_per_month, calls_per_month FROM ai_budgets WHERE app_id = ?', [appId]);
    return { tokensPerMonth: r?.tokens_per_month ?? null, callsPerMonth: r?.calls_per_month ?? null };
  }

  /** Every budget set, by app id. */
  budgets(): (AiBudget & { appId: string })[] {
    return this.db
      .query<{ app_id: string; tokens_per_month: number | null; calls_per_month: number | null }>('SELECT * FROM ai_budgets ORDER BY app_id')
      .map((r) => ({ appId: r.app_id, tokensPerMonth: r.tokens_per_month, callsPerMonth: r.calls_per_month }));
  }

  /**
   * Sets an app's budget; both `null` removes it (no cap).
   * @throws FaztError `INVALID_ARGUMENT` for a cap that is not a whole number ≥ 0.
   */
  setBudget(appId: string, b: AiBudget): AiBudget {
    for (const [k, v] of Object.entries(b)) {
      if (v !== null && (!Number.isSafeInteger(v) || v < 0)) throw new FaztError('INVALID_ARGUMENT', `${k} must be a whole number ≥ 0 or null (no cap); got ${JSON.stringify(v)}.`);
    }
    if (b.tokensPerMonth === null && b.callsPerMonth === null) this.db.run('DELETE FROM ai_budgets WHERE app_id = ?', [appId]);
    else {
      this.db.run(
        `INSERT INTO ai_budgets (app_id, tokens_per_month, calls_per_month, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(app_id) DO UPDATE SET tokens_per_month = excluded.tokens_per_month, calls_per_month = excluded.calls_per_month, updated_at = excluded.updated_at`,
        [appId, b.tokensPerMonth, b.callsPerMonth, this.cart.clock.now()],
      );
    }
    return this.budget(appId);
  }

  /**
   * Refuses a call of an app that used its budget this month (a call begun under the cap may end
   * over it: the cap is checked before each call, the tokens are known after).
   * @param appName for the message.
   * @throws FaztError `AI_BUDGET_EXCEEDED` naming the cap, the use and when the month ends.
   */
  check(appId: string, appName: string): void {
    const b = this.budget(appId);
    if (b.tokensPerMonth === null && b.callsPerMonth === null) return;
    const u = this.usage(appId)[0];
    const tokens = u ? u.inputTokens + u.outputTokens : 0;
    const calls = u?.calls ?? 0;
    const now = new Date(this.cart.clock.now());
    const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    const retryAfterSeconds = Math.max(1, Math.ceil((next - now.getTime()) / 1000));
    if (b.tokensPerMonth !== null && tokens >= b.tokensPerMonth) {
      throw new FaztError('AI_BUDGET_EXCEEDED', `The app "${appName}" used its AI budget: ${tokens} of ${b.tokensPerMonth} tokens this month. The owner can raise it (\`fazt ai budget ${appName} --tokens N\`); it resets on ${new Date(next).toISOString().slice(0, 10)}.`, { retryAfterSeconds });
    }
    if (b.callsPerMonth !== null && calls >= b.callsPerMonth) {
      throw new FaztError('AI_BUDGET_EXCEEDED', `The app "${appName}" used its AI budget: ${calls} of ${b.callsPerMonth} calls this month. The owner can raise it (\`fazt ai budget ${appName} --calls N\`); it resets on ${new Date(next).toISOString().slice(0, 10)}.`, { retryAfterSeconds });
    }
  }
}
