import type { AiService } from '../ai/index.js';
import { formatBytes } from '../deploy/index.js';
import { FaztError, isFaztError } from '../errors.js';
import type { PulseAlertRecord } from './store.js';
import type { PulseSnapshot } from './snapshot.js';
import { mergeSnapshots } from './snapshot.js';

/**
 * `fazt pulse ask "how am I doing?"` (docs/pulse.md "Ask"): the node's health in plain words. With a
 * model configured (`fazt ai provider set …`) the model answers the question from the facts;
 * without one, or when the model cannot be reached, a rule-based summary answers — it always works
 * offline.
 */

/** The facts an answer is made from. */
export interface PulseFacts {
  /** The newest snapshot, if any. */
  latest: PulseSnapshot | undefined;
  /** Raw snapshots of the past day, oldest first. */
  day: PulseSnapshot[];
  /** Alerts holding now. */
  open: PulseAlertRecord[];
  /** The interval between snapshots, ms. */
  intervalMs: number;
}

/** An answer to a question about the node's health. */
export interface PulseAnswer {
  /** Plain words. */
  answer: string;
  /** Who answered: the configured model, or the rules. */
  source: 'model' | 'rules';
  /** `provider/model` when the model answered. */
  model?: string;
  /** Why the rules answered although a model is configured (its error), when that happened. */
  note?: string;
}

/** Longest question accepted, characters. */
export const MAX_QUESTION_CHARS = 2000;

const pct = (f: number) => `${Math.round(f * 1000) / 10}%`;
const ms = (v: number) => (v >= 1000 ? `${Math.round(v / 100) / 10} s` : `${Math.round(v)} ms`);
const plural = (n: number, one: string, many = one + 's') => `${n} ${n === 1 ? one : many}`;
const ago = (t: number, at: number) => {
  const m = Math.round((at - t) / 60_000);
  return m < 1 ? 'just now' : m < 90 ? `${m} min ago` : `${Math.round(m / 60)} h ago`;
};

/**
 * A rule-based summary of the node's health: alerts first, then memory and CPU, disk and cartridge,
 * the day's requests and errors (the slowest app's p99), jobs, events, push failures, peers.
 * @param at now, ms epoch (for "taken 3 min ago").
 */
export function ruleSummary(f: PulseFacts, at: number): string {
  const s = f.latest;
  if (!s) {
    return `No health snapshot yet: the node records one every ${f.intervalMs >= 60_000 ? `${Math.round(f.intervalMs / 60_000)} minutes` : ms(f.intervalMs)} while it runs (the first one a minute after it starts). Start it with \`fazt start\`, or take one now with \`fazt pulse --now\`.`;
  }
  const lines: string[] = [];
  if (f.open.length) {
    lines.push(`${plural(f.open.length, 'thing needs', 'things need')} attention:`);
    for (const a of f.open) lines.push(`- ${a.severity === 'critical' ? 'CRITICAL' : 'warning'}: ${a.title}. ${a.message}`);
  } else lines.push('All is well: no alert is raised.');
  const day = f.day.length ? mergeSnapshots(f.day, f.day[0]!.at, 'raw') : s;
  const mem: string[] = [];
  if (s.process.rssBytes !== null) mem.push(`uses ${formatBytes(s.process.rssBytes)} of memory`);
  if (s.process.heapUsedBytes !== null) mem.push(`${formatBytes(s.process.heapUsedBytes)} of it JS heap`);
  if (s.process.cpuPercent !== null) mem.push(`CPU ${s.process.cpuPercent}% of a core`);
  if (mem.length) lines.push(`The node ${mem.join(', ')} (snapshot ${ago(s.at, at)}).`);
  else lines.push(`Latest snapshot ${ago(s.at, at)} (this host reports no memory or CPU figures).`);
  const d = s.disk;
  const growth = f.day.length ? d.cartridgeBytes - f.day[0]!.disk.cartridgeBytes : 0;
  const cart = `the cartridge is ${formatBytes(d.cartridgeBytes)}${growth > 0 ? ` (grew ${formatBytes(growth)} in the past day)` : ''}`;
  lines.push(d.usedFraction !== null ? `Disk ${pct(d.usedFraction)} used, ${formatBytes(d.freeBytes ?? 0)} free; ${cart}.` : `Disk space is unknown on this host; ${cart}.`);
  const r = day.requests;
  if (r.total > 0) {
    const slow = [...day.apps].filter((a) => a.p99Ms !== null).sort((a, b) => b.p99Ms! - a.p99Ms!)[0];
    const failing = [...day.apps].filter((a) => a.errors > 0).sort((a, b) => b.errors - a.errors)[0];
    lines.push(
      `Over the past day apps answered ${plural(r.total, 'request')}; ${r.errors ? `${r.errors} failed (${pct(r.errors / r.total)}${failing ? `, most in ${failing.app ?? failing.appId}` : ''})` : 'none failed'}.` +
        (slow ? ` Slowest: ${slow.app ?? slow.appId}, p99 ${ms(slow.p99Ms!)}.` : ''),
    );
  } else lines.push('No app requests over the past day.');
  if (day.jobs.runs || day.events.emitted || day.events.deliveries) {
    lines.push(
      `Jobs ran ${plural(day.jobs.runs, 'time')}${day.jobs.failures ? `, ${day.jobs.failures} failed` : ''}; ${plural(day.events.emitted, 'event')} stored, ${plural(day.events.deliveries, 'delivery', 'deliveries')}${day.events.deliveryFailures ? ` (${day.events.deliveryFailures} failed)` : ''}.`,
    );
  }
  if (day.push.failures) lines.push(`${plural(day.push.failures, 'push notification')} could not be delivered.`);
  if (s.peers.total) {
    const off = s.peers.list.filter((p) => !p.connected).map((p) => p.name);
    lines.push(`${s.peers.connected} of ${plural(s.peers.total, 'paired device')} connected${off.length ? ` (not: ${off.join(', ')})` : ''}.`);
  }
  return lines.join('\n');
}

/** The facts as the model gets them: compact JSON with the figures it needs. */
function factsForModel(f: PulseFacts, at: number): string {
  const day = f.day.length ? mergeSnapshots(f.day, f.day[0]!.at, 'raw') : undefined;
  return JSON.stringify({
    now: new Date(at).toISOString(),
    latestSnapshot: f.latest ?? null,
    pastDayTotals: day ? { requests: day.requests, apps: day.apps, jobs: day.jobs, events: day.events, push: day.push, cartridgeBytesAtStart: f.day[0]!.disk.cartridgeBytes } : null,
    openAlerts: f.open.map((a) => ({ condition: a.condition, severity: a.severity, title: a.title, message: a.message, raisedAt: new Date(a.raisedAt).toISOString() })),
    snapshotIntervalMinutes: f.intervalMs / 60_000,
  });
}

const SYSTEM = [
  'You are the health assistant of a Fazt node (a personal cloud server holding apps and their data in one SQLite cartridge).',
  'Answer the owner\'s question in plain, short words (at most 6 sentences), using only the facts given as JSON.',
  'Say first whether anything needs attention (open alerts), then what matters for the question. Bytes: say MB/GB. Do not invent figures.',
].join(' ');

/**
 * Answers a question about the node's health: the configured model when there is one (it gets the
 * question and the facts), else the rules ({@link ruleSummary}). A model that fails (no key, no
 * internet, rate limit …) falls back to the rules, with the reason in `note`.
 * @param question at most {@link MAX_QUESTION_CHARS} characters; empty means "how am I doing?".
 * @throws FaztError `INVALID_ARGUMENT` for a question that is not a string or too long.
 */
export async function askPulse(ai: AiService | undefined, f: PulseFacts, question: unknown, at: number): Promise<PulseAnswer> {
  if (question !== undefined && typeof question !== 'string') throw new FaztError('INVALID_ARGUMENT', 'The question must be a string, like "how am I doing?".');
  const q = (question ?? '').trim() || 'How am I doing?';
  if (q.length > MAX_QUESTION_CHARS) throw new FaztError('INVALID_ARGUMENT', `The question is ${q.length} characters; ask in at most ${MAX_QUESTION_CHARS}.`);
  const rules = () => ruleSummary(f, at);
  if (!ai || !ai.status().configured) return { answer: rules(), source: 'rules' };
  try {
    const r = await ai.generateText({ appId: '', appName: 'owner' }, { system: SYSTEM, prompt: `Question: ${q}\n\nFacts (JSON): ${factsForModel(f, at)}`, maxOutputTokens: 500 });
    const text = r.text.trim();
    if (!text) return { answer: rules(), source: 'rules', note: 'The model gave an empty answer.' };
    return { answer: text, source: 'model', model: r.model };
  } catch (e) {
    const note = isFaztError(e) ? `${e.code}: ${e.message}` : String((e as Error)?.message ?? e);
    return { answer: rules(), source: 'rules', note: `The model could not answer (${note.slice(0, 300)}); this summary comes from the rules.` };
  }
}
