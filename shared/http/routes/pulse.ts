import { FaztError } from '../../errors.js';
import { askPulse, formatDuration, parseDuration, RETENTION, type PulseFacts } from '../../pulse/index.js';
import { jsonBody } from '../api-input.js';
import { json } from '../responses.js';
import type { ApiRouter } from '../router.js';
import type { Kernel } from '../../kernel.js';

/**
 * Pulse (docs/pulse.md, docs/api.md "Pulse"): the latest health snapshot with its history and the
 * alerts, a snapshot on demand, the interval setting, and questions answered in plain words. All
 * need the `admin` scope.
 */

const DAY = 86_400_000;

/** The facts `ask` answers from. */
function factsOf(kernel: Kernel): PulseFacts {
  const p = kernel.pulse;
  const latest = p.store.latest();
  const until = latest?.at ?? kernel.cartridge.clock.now();
  return { latest, day: p.store.history(until - DAY, until, 'raw'), open: p.store.openAlerts(), intervalMs: p.interval().intervalMs };
}

/** Adds `GET /api/pulse`, `POST /api/pulse/snapshot`, `PUT /api/pulse/settings`, `POST /api/pulse/ask`. */
export function pulseRoutes(api: ApiRouter): void {
  // ?history=24h (default 24h; 0 for none): stored rows of that span, raw/hourly/daily as kept
  api.route('GET', '/api/pulse', 'admin', (c) => {
    const p = c.kernel.pulse;
    const h = c.url.searchParams.get('history');
    const span = h === null || h === '' ? DAY : h === '0' ? 0 : parseDuration(h, 'history', RETENTION.dayMs);
    const latest = p.store.latest() ?? null;
    const now = c.kernel.cartridge.clock.now();
    const { open, recent } = p.alerts();
    const { intervalMs, source } = p.interval();
    return json({
      latest,
      history: span ? p.store.history(now - span, now) : [],
      historySpan: formatDuration(span),
      alerts: { open, recent },
      settings: { intervalMs, intervalSource: source },
      running: p.isRunning,
      nextAt: p.nextAt ?? null,
    });
  });

  api.route('POST', '/api/pulse/snapshot', 'admin', async (c) => json({ snapshot: await c.kernel.pulse.snapshot() }, 201));

  api.route('PUT', '/api/pulse/settings', 'admin', async (c) => {
    const b = await jsonBody(c);
    let ms: number | null;
    if (b.intervalMs === null) ms = null;
    else if (typeof b.intervalMs === 'number') ms = b.intervalMs;
    else if (typeof b.interval === 'string') ms = parseDuration(b.interval, 'interval');
    else throw new FaztError('BAD_REQUEST', 'Send {"intervalMs": 900000}, {"interval": "15m"}, or {"intervalMs": null} for the default.');
    const r = c.kernel.pulse.setInterval(ms);
    return json({ settings: { intervalMs: r.intervalMs, intervalSource: r.source } });
  });

  api.route('POST', '/api/pulse/ask', 'admin', async (c) => {
    const b = await jsonBody(c, 16 * 1024);
    return json(await askPulse(c.kernel.ai, factsOf(c.kernel), b.question, c.kernel.cartridge.clock.now()));
  });
}
