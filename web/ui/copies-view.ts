/**
 * `<fazt-copies>`: "copies that drift apart". An app can live on this device's node and on the hub
 * at once; until the two are synced (docs/mesh.md), what is deployed or written on one never
 * reaches the other. This view says, per app, whether the two copies differ (the live version's
 * files, by tree hash; the number of stored records; the last change) and how to bring them
 * together today.
 *
 * It only shows {@link CopyFacts} it is given: {@link loadCopies} reads them from both nodes' admin
 * API (versions, storage counts), and, when the two nodes are paired, the node acted on's sync state
 * with the other ({@link Copies.sync}, from `GET /api/sync/status`). Paired copies converge by
 * themselves (docs/sync-spec.md): the view then says whether sync is under way or waits for the two
 * to connect, instead of the manual steps.
 */
import { LitElement, html, css, nothing } from 'lit';
import { FaztApi, type NodeTarget } from '../lib/api.js';
import type { SyncPeerStatus } from '../lib/api-types.js';
import { formatAgo, formatTime, plural } from '../lib/format.js';
import { href } from '../lib/router.js';
import { base } from './styles.js';

/** What one node holds of an app. */
export interface CopyFacts {
  /** The live version's number on that node (numbers are per node: equal numbers may differ in content). */
  version: number | null;
  /** SHA-256 of the live version's file tree (`VersionInfo.treeHash`); the same files give the same hash on every node. */
  treeHash?: string;
  /** When the app last changed on that node (deploy, rollback, rename), ms since the epoch. */
  updatedAt: number;
  /** kv entries + documents + files the app stored on that node, when read (`GET /api/apps/:app/storage`). */
  records?: number;
}

/**
 * How two copies of an app compare: `same` (same files, same record count or not read), `code` (the
 * live files differ), `data` (same files, different record counts), `only-here` / `only-there`
 * (the app is on one node only), `unknown` (the other node could not be asked).
 */
export type CopiesState = 'same' | 'code' | 'data' | 'only-here' | 'only-there' | 'unknown';

/** Compares the facts of both nodes; `null` means that node has no such app, `undefined` that it could not be asked. */
export function compareCopies(here: CopyFacts | null | undefined, there: CopyFacts | null | undefined): CopiesState {
  if (here === undefined || there === undefined) return 'unknown';
  if (here === null && there === null) return 'unknown';
  if (there === null) return 'only-here';
  if (here === null) return 'only-there';
  const codeDiffers = here.treeHash && there.treeHash ? here.treeHash !== there.treeHash : here.version !== there.version;
  if (codeDiffers) return 'code';
  if (here.records !== undefined && there.records !== undefined && here.records !== there.records) return 'data';
  return 'same';
}

/** Plain name of a node in sentences ("this device", "the hub"). */
function nodeWords(t: NodeTarget): string {
  return t === 'device' ? 'this device' : 'the hub';
}

/**
 * Reads one node's {@link CopyFacts} of `name`.
 * @returns `null` when the node has no such app; `undefined` when it could not be asked (not reachable, not signed in).
 */
export async function copyFacts(api: FaztApi, name: string, opts: { records?: boolean } = {}): Promise<CopyFacts | null | undefined> {
  try {
    const [versions, storage] = await Promise.all([api.versions(name), opts.records ? api.storage(name) : Promise.resolve(undefined)]);
    const live = versions.find((v) => v.current);
    const updatedAt = Math.max(0, ...versions.map((v) => v.createdAt));
    const records = storage ? storage.kv.count + storage.collections.reduce((n, c) => n + c.count, 0) + storage.blobs.count : undefined;
    return { version: live?.version ?? null, treeHash: live?.treeHash, updatedAt, records };
  } catch (e) {
    const code = (e as { code?: string }).code;
    return code === 'APP_NOT_FOUND' || code === 'NOT_FOUND' ? null : undefined;
  }
}

/** Both nodes' facts of one app, for `<fazt-copies>`. */
export interface Copies {
  here: CopyFacts | null | undefined;
  there: CopyFacts | null | undefined;
  /** The node acted on's sync state with the other node, when the two are paired. */
  sync?: SyncPeerStatus;
}

/**
 * The node acted on's sync state with the other node (hub ↔ this device), when they are paired.
 * @returns `undefined` when they are not paired, or either could not be asked (then nothing syncs them, as far as the view knows).
 */
export async function pairedSync(api: FaztApi): Promise<SyncPeerStatus | undefined> {
  const other = new FaztApi(api.target === 'hub' ? 'device' : 'hub');
  try {
    const [id, status] = await Promise.all([other.meshId(), api.syncStatus()]);
    return status.find((s) => s.nodeId === id.nodeId);
  } catch {
    return undefined;
  }
}

/**
 * Reads both copies of `name`: on the node acted on (`api`) and on the other one, and their sync state.
 * @param opts.records also count the stored records (two more calls).
 * @param opts.sync the sync state already read with {@link pairedSync} (for a list of apps: read once); read here when absent.
 */
export async function loadCopies(api: FaztApi, name: string, opts: { records?: boolean; sync?: Promise<SyncPeerStatus | undefined> } = {}): Promise<Copies> {
  const other = new FaztApi(api.target === 'hub' ? 'device' : 'hub');
  const [here, there, sync] = await Promise.all([copyFacts(api, name, opts), copyFacts(other, name, opts), opts.sync ?? pairedSync(api)]);
  return sync ? { here, there, sync } : { here, there };
}

/** What a paired pair of copies is doing: syncing now, or waiting for the two to connect. */
function syncWords(s: SyncPeerStatus, here: string, there: string): string {
  if (s.stalled) return `Sync with ${there} is stopped: ${s.stalled}`;
  if (!s.connected) return `The two are paired: they sync when ${there} and ${here} are connected again${s.lastSyncAt ? ` (last synced ${formatAgo(s.lastSyncAt)})` : ''}.`;
  const left = s.pendingIn + s.pendingOut;
  return left ? `Syncing with ${there}: ${plural(left, 'change')} to go.` : `Synced with ${there}; the last changes are arriving.`;
}

/**
 * Whether `c` shows copies that differ while their nodes are paired: sync is bringing them together,
 * so a screen showing them reads them again now and then ({@link COPIES_REFRESH_MS}) until they match.
 */
export function copiesConverging(c: Copies | undefined): boolean {
  if (!c?.sync) return false;
  const state = compareCopies(c.here, c.there);
  return state === 'code' || state === 'data' || state === 'only-there';
}

/** How often a screen reads converging copies again, ms (as the Devices screen reads the sync state). */
export const COPIES_REFRESH_MS = 3000;

/** Two copies of an app, compared. */
export class FaztCopies extends LitElement {
  static properties = {
    name: {},
    target: {},
    copies: { attribute: false },
    compact: { type: Boolean },
  };
  static styles = [
    base,
    css`
      .copies {
        border-left: 4px solid var(--warn-text);
        background: var(--warn-bg);
        color: var(--warn-text);
        padding: 0.5rem 0.75rem;
        border-radius: 8px;
        margin: 0.5rem 0 0;
      }
      .copies p {
        margin: 0 0 0.35rem;
      }
      .copies a {
        color: inherit;
        font-weight: 600;
      }
      table {
        margin: 0.25rem 0 0.5rem;
      }
      th,
      td {
        padding: 0.25rem 0.5rem;
        border-color: currentColor;
      }
      th {
        color: inherit;
      }
      ol {
        margin: 0.25rem 0;
        padding-left: 1.25rem;
      }
      section.copies {
        margin: 0 0 1.25rem;
      }
      .hash {
        font-size: 0.8rem;
      }
      @media (max-width: 36rem) {
        /* rows become short blocks on phones */
        table,
        tbody,
        tr,
        td,
        th[scope='row'] {
          display: block;
        }
        thead {
          position: absolute;
          width: 1px;
          height: 1px;
          overflow: hidden;
          clip: rect(0 0 0 0);
        }
        tr {
          padding: 0.35rem 0;
          border-bottom: 1px solid currentColor;
        }
        td,
        th {
          border: 0;
          padding: 0.05rem 0;
        }
        td[data-label]::before {
          content: attr(data-label) ': ';
        }
        td:empty {
          display: none;
        }
      }
    `,
  ];

  /** The app's name. */
  name = '';
  /** The node acted on ("here"). */
  target: NodeTarget = 'hub';
  /** Both nodes' facts. */
  copies: Copies | undefined;
  /** One line with a link to the app's page (the app list), instead of the comparison and the steps. */
  compact = false;

  render() {
    const c = this.copies;
    if (!c) return nothing;
    const state = compareCopies(c.here, c.there);
    if (state === 'same' || state === 'unknown' || state === 'only-here') return nothing;
    const here = nodeWords(this.target);
    const there = nodeWords(this.target === 'hub' ? 'device' : 'hub');
    const synced = c.sync ? html`<span class="sync" data-sync=${c.sync.connected ? 'on' : 'off'}>${syncWords(c.sync, here, there)}</span>` : nothing;
    const what =
      state === 'code'
        ? `The copy on ${there} runs other files than the one on ${here}.`
        : state === 'data'
        ? `The copy on ${there} holds other data than the one on ${here}.`
        : `This app is also on ${there}, not on ${here}.`;
    if (this.compact)
      return html`<div class="copies" role="note">
        <p>
          ${what} ${synced}
          <a href=${href({ screen: 'app', name: this.name, tab: 'versions' })} aria-label="Compare the copies of ${this.name}">Compare the copies</a>
        </p>
      </div>`;
    const row = (label: string, f: CopyFacts | null | undefined) =>
      html`<tr>
        <th scope="row">${label}</th>
        <td data-label="Live files">
          ${f ? (f.version === null ? 'no live version' : `version ${f.version}`) : 'not there'}${f?.treeHash
            ? html` <span class="hash">(files <code>${f.treeHash.slice(0, 8)}</code>)</span>`
            : ''}
        </td>
        <td data-label="Stored">${f?.records === undefined ? '' : plural(f.records, 'record')}</td>
        <td data-label="Last deploy">${f ? formatTime(f.updatedAt) : ''}</td>
      </tr>`;
    return html`<section class="copies" aria-labelledby="copies-h">
      <h3 id="copies-h">Two copies that differ</h3>
      <p>${what} ${c.sync ? synced : 'Until the two are synced, what is deployed or written on one stays on it.'}</p>
      <table>
        <thead>
          <tr><th scope="col">Where</th><th scope="col">Live files</th><th scope="col">Stored</th><th scope="col">Last deploy</th></tr>
        </thead>
        <tbody>
          ${row(`Here (${here})`, c.here)} ${row(`There (${there})`, c.there)}
        </tbody>
      </table>
      ${c.sync
        ? nothing
        : html`<p>To bring them together:</p>
      <ol>
        ${state === 'code' || state === 'only-there'
          ? html`<li>Deploy the same folder to both: on the Deploy screen here, then again after choosing ${there} with the menu at the top.</li>`
          : nothing}
        <li>
          Data moves as a whole: download a backup of the hub (Settings, while using the hub) and import it in Settings of this device. That
          replaces what is on this device; the current data is kept as a backup there.
        </li>
      </ol>`}
    </section>`;
  }
}
customElements.define('fazt-copies', FaztCopies);

declare global {
  interface HTMLElementTagNameMap {
    'fazt-copies': FaztCopies;
  }
}
