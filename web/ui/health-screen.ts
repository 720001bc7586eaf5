/**
 * `<fazt-health>`: the Health screen (docs/pulse.md). The node's latest health snapshot as figures,
 * the alerts that hold, charts of the history (uPlot: memory, CPU, requests and errors, p99
 * latency, disk and cartridge) over 24 hours, 7 or 30 days, and an "Ask" line answered by the
 * node's model or its rules (`POST /api/pulse/ask`). Everything comes from `GET /api/pulse` of the
 * node acted on; refreshed every 30 s while visible. Loaded on demand (uPlot with it); the charts
 * follow the screen's width (ResizeObserver), so it reads at 360 px as on a desktop.
 */
import { LitElement, html, css, nothing, unsafeCSS, type PropertyValues } from 'lit';
import uPlot from 'uplot';
import uplotCss from 'uplot/dist/uPlot.min.css?inline';
import { ApiError, type FaztApi } from '../lib/api.js';
import { formatAgo, formatBytes, plural } from '../lib/format.js';
import type { PulseAlertRecord, PulseSnapshot } from '../../shared/pulse/index.js';
import { base } from './styles.js';
import { emit, UNREACHABLE } from './events.js';

/** What `GET /api/pulse` answers. */
interface PulseReport {
  latest: PulseSnapshot | null;
  history: PulseSnapshot[];
  historySpan: string;
  alerts: { open: PulseAlertRecord[]; recent: PulseAlertRecord[] };
  settings: { intervalMs: number; intervalSource: string };
  running: boolean;
  nextAt: number | null;
}

/** What `POST /api/pulse/ask` answers. */
interface PulseAnswer {
  answer: string;
  source: 'model' | 'rules';
  model?: string;
  note?: string;
}

/** The spans the history can be shown over. */
const SPANS = ['24h', '7d', '30d'] as const;
type Span = (typeof SPANS)[number];

/** How often the screen reads the node again while visible, ms. */
const REFRESH_MS = 30_000;

/** One chart: its title, series (label, colour variable, how to read the value) and how values are shown. */
interface ChartSpec {
  id: string;
  title: string;
  series: { label: string; colour: string; value: (s: PulseSnapshot) => number | null; dash?: number[]; right?: boolean }[];
  /** How values of series drawn against the right axis are shown (their own scale). */
  formatRight?: (v: number) => string;
  format: (v: number) => string;
}

const MiB = 1024 * 1024;
const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v * 10) / 10} ms`);
const pct = (f: number) => `${Math.round(f * 10) / 10}%`;

/** The charts, in order. */
const CHARTS: ChartSpec[] = [
  {
    id: 'memory',
    title: 'Memory',
    series: [
      { label: 'RSS', colour: '--accent', value: (s) => (s.process.rssBytes === null ? null : s.process.rssBytes / MiB) },
      { label: 'Heap', colour: '--ok-text', value: (s) => (s.process.heapUsedBytes === null ? null : s.process.heapUsedBytes / MiB), dash: [6, 4] },
    ],
    format: (v) => `${Math.round(v)} MB`,
  },
  { id: 'cpu', title: 'CPU (% of a core)', series: [{ label: 'CPU', colour: '--accent', value: (s) => s.process.cpuPercent }], format: pct },
  {
    id: 'requests',
    title: 'Requests and errors',
    series: [
      { label: 'Requests', colour: '--accent', value: (s) => s.requests.total },
      { label: 'Errors', colour: '--danger-text', value: (s) => s.requests.errors },
    ],
    format: (v) => String(Math.round(v)),
  },
  { id: 'p99', title: 'Slowest app, p99 latency', series: [{ label: 'p99', colour: '--focus', value: (s) => s.requests.p99Ms }], format: ms },
  {
    id: 'disk',
    title: 'Disk used and cartridge size',
    series: [
      { label: 'Disk used %', colour: '--accent', value: (s) => (s.disk.usedFraction === null ? null : s.disk.usedFraction * 100) },
      { label: 'Cartridge', colour: '--ok-text', value: (s) => s.disk.cartridgeBytes / MiB, dash: [6, 4], right: true },
    ],
    format: (v) => `${Math.round(v)}%`,
    formatRight: (v) => (v >= 10 ? `${Math.round(v)} MB` : `${Math.round(v * 10) / 10} MB`),
  },
];

/** The Health screen. */
export class FaztHealth extends LitElement {
  static properties = {
    api: { attribute: false },
    targetLabel: {},
    report: { state: true },
    error: { state: true },
    span: { state: true },
    busy: { state: true },
    question: { state: true },
    answer: { state: true },
    asking: { state: true },
    askError: { state: true },
  };

  api!: FaztApi;
  targetLabel = 'this node';
  report: PulseReport | undefined;
  error = '';
  span: Span = '24h';
  busy = false;
  question = '';
  answer: PulseAnswer | undefined;
  asking = false;
  askError = '';
  private plots = new Map<string, uPlot>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private resize: ResizeObserver | undefined;

  static styles = [
    base,
    unsafeCSS(uplotCss),
    css`
      .figures {
        display: grid;
        grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr));
        gap: 0.5rem;
        margin: 0 0 1rem;
      }
      .figure {
        background: var(--card);
        border: 1px solid var(--line);
        border-radius: 12px;
        padding: 0.6rem 0.75rem;
        min-width: 0;
      }
      .figure .k {
        color: var(--muted);
        font-size: 0.8rem;
      }
      .figure .v {
        font-size: 1.2rem;
        font-weight: 700;
        overflow-wrap: anywhere;
      }
      .figure .s {
        color: var(--muted);
        font-size: 0.8rem;
      }
      .alert {
        border-left: 5px solid var(--warn-text);
        background: var(--warn-bg);
        border-radius: 8px;
        padding: 0.5rem 0.75rem;
        margin: 0 0 1rem;
      }
      .alert.critical {
        border-left-color: var(--danger);
      }
      .alert strong {
        display: block;
      }
      .charts {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(min(100%, 30rem), 1fr));
        gap: 0.75rem;
      }
      .chart {
        min-width: 0;
        margin: 0;
        padding: 0.75rem 0.5rem 0.25rem;
      }
      .chart h3 {
        padding: 0 0.25rem;
      }
      .plot {
        width: 100%;
        min-height: 190px;
      }
      .spans {
        display: flex;
        gap: 0.25rem;
      }
      .spans button[aria-pressed='true'] {
        background: var(--accent);
        color: var(--on-accent);
      }
      .ask {
        display: flex;
        gap: 0.5rem;
      }
      .ask input {
        flex: 1;
        min-width: 0;
      }
      .answer {
        white-space: pre-wrap;
        margin: 0.75rem 0 0;
      }
      .u-legend {
        font-size: 0.8rem;
        color: var(--fg);
      }
      .u-legend .u-series > * {
        padding: 2px 4px;
      }
      .u-axis {
        color: var(--muted);
      }
    `,
  ];

  connectedCallback(): void {
    super.connectedCallback();
    // the first read waits for firstUpdated: properties set before the element was defined (it is
    // loaded on demand) are applied at the first update, after connectedCallback
    if (this.hasUpdated) void this.load();
    this.timer = setInterval(() => {
      if (document.visibilityState === 'visible') void this.load();
    }, REFRESH_MS);
    this.resize = new ResizeObserver(() => this.sizeCharts());
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.timer);
    this.resize?.disconnect();
    for (const p of this.plots.values()) p.destroy();
    this.plots.clear();
  }

  /** Reads `/api/pulse` for the chosen span. */
  private async load(): Promise<void> {
    try {
      this.report = await this.api.call<PulseReport>('GET', `/pulse?history=${this.span}`);
      this.error = '';
    } catch (e) {
      this.error = (e as Error).message;
      if (e instanceof ApiError && e.code === 'NETWORK') emit(this, UNREACHABLE, undefined);
    }
  }

  private async snapshotNow(): Promise<void> {
    this.busy = true;
    try {
      await this.api.call('POST', '/pulse/snapshot');
      await this.load();
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.busy = false;
    }
  }

  private async ask(e: Event): Promise<void> {
    e.preventDefault();
    this.asking = true;
    this.askError = '';
    try {
      this.answer = await this.api.call<PulseAnswer>('POST', '/pulse/ask', { question: this.question || 'How am I doing?' });
    } catch (err) {
      this.askError = (err as Error).message;
    } finally {
      this.asking = false;
    }
  }

  private setSpan(s: Span): void {
    if (s === this.span) return;
    this.span = s;
    void this.load();
  }

  protected firstUpdated(): void {
    void this.load();
  }

  protected updated(changed: PropertyValues): void {
    if (changed.has('report')) this.drawCharts();
  }

  /** A CSS colour variable's value on this element. */
  private colour(name: string): string {
    return getComputedStyle(this).getPropertyValue(name).trim() || '#1f5fd6';
  }

  /** (Re)draws every chart from the report's history. */
  private drawCharts(): void {
    const h = this.report?.history ?? [];
    for (const spec of CHARTS) {
      const el = this.renderRoot.querySelector<HTMLElement>(`#plot-${spec.id}`);
      if (!el) continue;
      const data: uPlot.AlignedData = [h.map((s) => s.at / 1000), ...spec.series.map((ser) => h.map((s) => ser.value(s)))];
      const existing = this.plots.get(spec.id);
      if (existing && existing.root.parentElement === el) {
        existing.setData(data);
        continue;
      }
      existing?.destroy();
      const axis = { stroke: this.colour('--muted'), font: '12px system-ui, sans-serif', grid: { stroke: this.colour('--line'), width: 1 }, ticks: { stroke: this.colour('--line'), width: 1 } };
      const plot = new uPlot(
        {
          width: Math.max(200, el.clientWidth),
          height: 160,
          cursor: { drag: { x: false, y: false } },
          legend: { live: false },
          scales: {
            x: { time: true },
            y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
            ...(spec.formatRight ? { r: { range: (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } } : {}),
          },
          axes: [
            { ...axis },
            { ...axis, size: 64, values: (_u, vals) => vals.map((v) => (v === null ? '' : spec.format(v))) },
            ...(spec.formatRight ? [{ ...axis, scale: 'r', side: 1 as const, size: 64, grid: { show: false }, values: (_u: uPlot, vals: (number | null)[]) => vals.map((v) => (v === null ? '' : spec.formatRight!(v))) }] : []),
          ],
          series: [
            {},
            ...spec.series.map((ser) => ({
              label: ser.label,
              scale: ser.right ? 'r' : 'y',
              stroke: this.colour(ser.colour),
              width: 2,
              dash: ser.dash,
              spanGaps: false,
              points: { show: h.length < 40 },
              value: (_u: uPlot, v: number | null) => (v === null ? '–' : (ser.right ? spec.formatRight! : spec.format)(v)),
            })),
          ],
        },
        data,
        el,
      );
      this.plots.set(spec.id, plot);
      this.resize?.observe(el);
    }
  }

  private sizeCharts(): void {
    for (const [id, p] of this.plots) {
      const el = this.renderRoot.querySelector<HTMLElement>(`#plot-${id}`);
      if (el && Math.abs(el.clientWidth - p.width) > 2) p.setSize({ width: Math.max(200, el.clientWidth), height: 160 });
    }
  }

  render() {
    const r = this.report;
    return html`
      <div class="spread">
        <h2 tabindex="-1">Health of ${this.targetLabel}</h2>
        <button class="secondary" @click=${() => this.snapshotNow()} ?disabled=${this.busy}>${this.busy ? 'Measuring…' : 'Measure now'}</button>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${!r
        ? html`<p class="muted">Reading the node's health…</p>`
        : html`
            <p class="muted small">
              ${r.latest ? html`Measured ${formatAgo(r.latest.at)}, ` : html`Nothing measured yet; `}every ${everyText(r.settings.intervalMs)}.
              ${r.running ? nothing : html`This node is not measuring on its own right now.`}
            </p>
            ${this.alerts(r.alerts.open)} ${r.latest ? this.figures(r.latest, r.history) : nothing} ${this.askCard()}
            <div class="spread">
              <h3>History</h3>
              <div class="spans" role="group" aria-label="Time span">
                ${SPANS.map((s) => html`<button class="secondary" aria-pressed=${s === this.span ? 'true' : 'false'} @click=${() => this.setSpan(s)}>${s}</button>`)}
              </div>
            </div>
            ${r.history.length < 2 ? html`<p class="muted">The charts fill in as snapshots are taken (${plural(r.history.length, 'snapshot')} so far in this span).</p>` : nothing}
            <div class="charts">
              ${CHARTS.map((c) => html`<figure class="card chart"><h3>${c.title}</h3><div class="plot" id="plot-${c.id}" role="img" aria-label="${c.title} over ${this.span}"></div></figure>`)}
            </div>
          `}
    `;
  }

  private alerts(open: PulseAlertRecord[]) {
    if (!open.length) return html`<p class="ok">No alerts: nothing needs attention.</p>`;
    return html`<section aria-label="Alerts">
      ${open.map(
        (a) => html`<div class="alert ${a.severity}" role="status">
          <strong>${a.severity === 'critical' ? 'Critical: ' : ''}${a.title}</strong>
          <span class="small">${a.message}</span>
          <div class="muted small">Since ${formatAgo(a.raisedAt)}</div>
        </div>`,
      )}
    </section>`;
  }

  private figures(s: PulseSnapshot, history: PulseSnapshot[]) {
    const sum = (f: (x: PulseSnapshot) => number) => history.reduce((n, x) => n + f(x), 0);
    const requests = sum((x) => x.requests.total);
    const errors = sum((x) => x.requests.errors);
    const fig = (k: string, v: string, sub?: string) => html`<div class="figure"><div class="k">${k}</div><div class="v">${v}</div>${sub ? html`<div class="s">${sub}</div>` : nothing}</div>`;
    return html`<div class="figures">
      ${fig('Memory', s.process.rssBytes === null ? '–' : formatBytes(s.process.rssBytes), s.process.heapUsedBytes === null ? 'not reported here' : `heap ${formatBytes(s.process.heapUsedBytes)}`)}
      ${fig('CPU', s.process.cpuPercent === null ? '–' : pct(s.process.cpuPercent), 'of one core')}
      ${fig('Disk', s.disk.usedFraction === null ? '–' : pct(s.disk.usedFraction * 100) + ' used', s.disk.freeBytes === null ? 'unknown' : `${formatBytes(s.disk.freeBytes)} free`)}
      ${fig('Cartridge', formatBytes(s.disk.cartridgeBytes))}
      ${fig(`Requests, ${this.span}`, String(requests), errors ? `${errors} failed (${pct((errors / Math.max(1, requests)) * 100)})` : 'none failed')}
      ${this.slowest(history)}
      ${fig(`Jobs, ${this.span}`, String(sum((x) => x.jobs.runs)), `${sum((x) => x.jobs.failures)} failed`)}
      ${fig('Devices', s.peers.total ? `${s.peers.connected} of ${s.peers.total}` : 'none', s.peers.total ? 'connected' : 'paired')}
    </div>`;
  }

  /** The highest p99 of the span and the app it was. */
  private slowest(history: PulseSnapshot[]) {
    let best: { p99: number; app: string } | undefined;
    for (const s of history) for (const a of s.apps) if (a.p99Ms !== null && (!best || a.p99Ms > best.p99)) best = { p99: a.p99Ms, app: a.app ?? a.appId };
    return html`<div class="figure"><div class="k">Slowest p99, ${this.span}</div><div class="v">${best ? ms(best.p99) : '–'}</div>${best ? html`<div class="s">${best.app}</div>` : nothing}</div>`;
  }

  private askCard() {
    return html`<section class="card">
      <form class="ask" @submit=${(e: Event) => this.ask(e)}>
        <input
          aria-label="Ask about the node's health"
          placeholder="How am I doing?"
          .value=${this.question}
          @input=${(e: Event) => (this.question = (e.target as HTMLInputElement).value)}
          maxlength="2000"
        />
        <button ?disabled=${this.asking}>${this.asking ? '…' : 'Ask'}</button>
      </form>
      ${this.askError ? html`<p class="error" role="alert">${this.askError}</p>` : nothing}
      ${this.answer
        ? html`<p class="answer" aria-live="polite">${this.answer.answer}</p>
            <p class="muted small">${this.answer.source === 'model' ? `Answered by ${this.answer.model}.` : 'A summary from the rules (no model was used).'} ${this.answer.note ?? ''}</p>`
        : nothing}
    </section>`;
  }
}

/** `15 minutes`, `1 hour`, `250 ms`. */
function everyText(intervalMs: number): string {
  if (intervalMs % 3_600_000 === 0) return plural(intervalMs / 3_600_000, 'hour');
  if (intervalMs % 60_000 === 0) return plural(intervalMs / 60_000, 'minute');
  if (intervalMs % 1000 === 0) return plural(intervalMs / 1000, 'second');
  return `${intervalMs} ms`;
}

customElements.define('fazt-health', FaztHealth);

declare global {
  interface HTMLElementTagNameMap {
    'fazt-health': FaztHealth;
  }
}
