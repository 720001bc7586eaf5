/**
 * `<fazt-deploy>`: deploy an app from a folder (`<input webkitdirectory>`), a zip, or a drag and
 * drop, with a progress bar: packing in the browser (fflate), then the upload (hub: byte progress)
 * or the hand-over to this device's node, then installing. Errors are the node's own messages.
 */
import { LitElement, html, css, nothing } from 'lit';
import type { FaztApi, DeployProgress } from '../lib/api.js';
import type { DeployInfo } from '../lib/api-types.js';
import { APP_NAME, filesFromDrop, filesFromInput, zipFiles, type PickedFile } from '../lib/zip-folder.js';
import { formatBytes, plural } from '../lib/format.js';
import { href } from '../lib/router.js';
import { base } from './styles.js';
import { emit, APPS_CHANGED, UNREACHABLE } from './events.js';

/** What was picked; a folder keeps its own name, the app's name when it has no app.json. */
type Picked = { kind: 'folder'; files: PickedFile[]; label: string; folder?: string } | { kind: 'zip'; file: File; label: string };

/** True when the files have no app.json, or a readable one without a `name`. */
async function lacksName(files: PickedFile[]): Promise<boolean> {
  const manifest = files.find((f) => f.path === 'app.json');
  if (!manifest) return true;
  try {
    const m = JSON.parse(await manifest.file.text()) as unknown;
    return typeof m === 'object' && m !== null && !Array.isArray(m) && typeof (m as { name?: unknown }).name !== 'string';
  } catch {
    return false;
  }
}

/** The deploy screen. */
export class FaztDeploy extends LitElement {
  static properties = {
    api: { attribute: false },
    targetLabel: {},
    picked: { state: true },
    progress: { state: true },
    error: { state: true },
    result: { state: true },
    dragging: { state: true },
  };
  static styles = [
    base,
    css`
      .drop {
        border: 2px dashed var(--line-strong);
        border-radius: 12px;
        padding: 1.25rem 1rem;
        text-align: center;
        margin: 0.75rem 0;
      }
      .drop.over {
        border-color: var(--accent);
        background: var(--code-bg);
      }
      .pickers {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        justify-content: center;
        margin-top: 0.75rem;
      }
      .pickers label {
        margin: 0;
      }
      input[type='file'] {
        position: absolute;
        width: 1px;
        height: 1px;
        opacity: 0;
        min-height: 0;
        padding: 0;
      }
      input[type='file']:focus-visible + span {
        outline: 3px solid var(--focus);
        outline-offset: 2px;
      }
      progress {
        width: 100%;
        height: 1.25rem;
        accent-color: var(--accent);
      }
      .go {
        margin-top: 1rem;
      }
      dl {
        display: grid;
        grid-template-columns: max-content 1fr;
        gap: 0.25rem 1rem;
        margin: 0.5rem 0 1rem;
      }
      dt {
        color: var(--muted);
      }
      dd {
        margin: 0;
      }
    `,
  ];

  /** Client of the node to deploy to. */
  api!: FaztApi;
  /** The node's name ("This phone", "Hub · …"), shown so the person knows where the app goes. */
  targetLabel = '';
  private picked: Picked | undefined;
  private progress: (DeployProgress & { pack?: number }) | undefined;
  private error = '';
  private result: DeployInfo | undefined;
  private dragging = false;
  private abort: AbortController | undefined;

  render() {
    const busy = !!this.progress;
    return html`<section class="card">
      <h2>Deploy an app</h2>
      <p class="muted">
        Pick the app's folder (a built site is fine; <code>app.json</code> is optional) or a <code>.zip</code> of it. A new version goes live on
        <strong>${this.targetLabel}</strong>; earlier versions stay for rollback.
      </p>
      <div
        class="drop ${this.dragging ? 'over' : ''}"
        @dragover=${this.dragOver}
        @dragleave=${() => (this.dragging = false)}
        @drop=${this.drop}
      >
        <p>Drag a folder or a zip here, or</p>
        <div class="pickers">
          <label class="pick">
            <input type="file" webkitdirectory multiple @change=${this.pickFolder} ?disabled=${busy} aria-label="Choose a folder" />
            <span class="button secondary" aria-hidden="true">Choose a folder</span>
          </label>
          <label class="pick">
            <input type="file" accept=".zip,application/zip" @change=${this.pickZip} ?disabled=${busy} aria-label="Choose a zip file" />
            <span class="button secondary" aria-hidden="true">Choose a zip file</span>
          </label>
        </div>
      </div>
      ${this.picked ? html`<p>Selected: <strong>${this.picked.label}</strong></p>` : ''}
      <label for="name">App name (optional)</label>
      <input id="name" name="name" placeholder="from app.json, else the folder’s name" autocapitalize="off" autocomplete="off" spellcheck="false" ?disabled=${busy} />
      ${this.progress
        ? html`<div class="go" aria-live="polite">
            <p>${this.progress.label}</p>
            <progress aria-label="Deploy progress" max="1" value=${this.progress.fraction ?? nothing}></progress>
            <button class="secondary" @click=${() => this.abort?.abort()}>Cancel</button>
          </div>`
        : html`<div class="go"><button @click=${this.deploy} ?disabled=${!this.picked}>Deploy</button></div>`}
      ${this.error ? html`<p class="error" role="alert" id="deploy-error" tabindex="-1">${this.error}</p>` : ''}
      ${this.result ? this.done(this.result) : ''}
    </section>`;
  }

  private done(r: DeployInfo) {
    return html`<div class="card" role="status">
      <h3 class="ok" id="deploy-done" tabindex="-1">Deployed ${r.name}, version ${r.version}</h3>
      <dl>
        <dt>Files</dt>
        <dd>${plural(r.files, 'file')}, ${formatBytes(r.bytes)}</dd>
        ${r.permissions?.pending?.length
          ? html`<dt>Waiting for you</dt>
              <dd>It asks for ${r.permissions.pending.join(', ')}; grant with <code>fazt app grant ${r.name} …</code>.</dd>`
          : ''}
        ${r.warnings?.length ? html`<dt>Warnings</dt><dd>${r.warnings.join(' ')}</dd>` : ''}
      </dl>
      <div class="row">
        <a class="button" href=${href({ screen: 'open', name: r.name })}>Open ${r.name}</a>
        <a class="button secondary" href=${href({ screen: 'app', name: r.name, tab: 'versions' })}>Versions</a>
      </div>
    </div>`;
  }

  private dragOver(e: DragEvent) {
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    this.dragging = true;
  }

  private async drop(e: DragEvent) {
    e.preventDefault();
    this.dragging = false;
    if (!e.dataTransfer || this.progress) return;
    this.error = '';
    try {
      const got = await filesFromDrop(e.dataTransfer);
      this.choose('zip' in got ? { kind: 'zip', file: got.zip, label: got.zip.name } : this.folder(got.files, got.folder ?? 'the dropped folder', got.folder));
    } catch (err) {
      this.error = (err as Error).message;
    }
  }

  private folder(files: PickedFile[], name: string, folder?: string): Picked {
    return { kind: 'folder', files, folder, label: `${name} (${plural(files.length, 'file')}, ${formatBytes(files.reduce((n, f) => n + f.file.size, 0))})` };
  }

  private pickFolder(e: Event) {
    const input = e.target as HTMLInputElement;
    const list = input.files;
    if (!list || list.length === 0) return;
    const first = (list[0] as File & { webkitRelativePath?: string }).webkitRelativePath?.split('/')[0] || 'folder';
    this.choose(this.folder(filesFromInput(list), first, first));
    input.value = '';
  }

  private pickZip(e: Event) {
    const input = e.target as HTMLInputElement;
    const f = input.files?.[0];
    if (!f) return;
    this.choose({ kind: 'zip', file: f, label: `${f.name} (${formatBytes(f.size)})` });
    input.value = '';
  }

  private choose(p: Picked) {
    this.error = '';
    this.result = undefined;
    if (p.kind === 'folder' && p.files.length === 0) {
      this.error = 'That folder is empty. Pick the folder that holds the app’s files.';
      return;
    }
    if (p.kind === 'zip' && !/\.zip$/i.test(p.file.name)) {
      this.error = `“${p.file.name}” is not a .zip file. Pick a zip of the app’s folder, or the folder itself.`;
      return;
    }
    this.picked = p;
  }

  private async deploy() {
    const picked = this.picked;
    if (!picked) return;
    this.error = '';
    this.result = undefined;
    this.abort = new AbortController();
    let name = (this.renderRoot.querySelector<HTMLInputElement>('#name')?.value ?? '').trim() || undefined;
    // app.json is optional: without it, or without a name in it (and without a typed name), the
    // folder's name is the app's; a malformed app.json goes as it is (the node names the problem)
    if (!name && picked.kind === 'folder' && picked.folder && (await lacksName(picked.files))) {
      if (!APP_NAME.test(picked.folder)) {
        this.error = `The app would take its name from the folder “${picked.folder}”, which is not an app name. Type one above: lowercase letters, digits and hyphens, e.g. my-site.`;
        return;
      }
      name = picked.folder;
    }
    try {
      let body: Blob;
      if (picked.kind === 'folder') {
        this.progress = { phase: 'upload', fraction: 0, label: 'Packing the files…' };
        body = await zipFiles(picked.files, (done, total) => {
          this.progress = { phase: 'upload', fraction: (done / total) * 0.999, label: `Packing the files: ${done} of ${total}` };
        });
      } else body = picked.file;
      const r = await this.api.deploy(body, { name, signal: this.abort.signal, onProgress: (p) => (this.progress = p) });
      this.result = r;
      this.picked = undefined;
      emit(this, APPS_CHANGED);
    } catch (e) {
      this.error = (e as Error).message;
      if ((e as { code?: string }).code === 'NETWORK') emit(this, UNREACHABLE);
    } finally {
      this.progress = undefined;
      this.abort = undefined;
    }
    // the result (or the error) is below the fold on a phone: bring it into view and say it
    await this.updateComplete;
    const shown = this.renderRoot.querySelector<HTMLElement>(this.result ? '#deploy-done' : '#deploy-error');
    shown?.focus({ preventScroll: true });
    if (this.result) shown?.closest('[role=status]')?.scrollIntoView({ block: 'start', behavior: 'smooth' });
    else shown?.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }
}
customElements.define('fazt-deploy', FaztDeploy);

declare global {
  interface HTMLElementTagNameMap {
    'fazt-deploy': FaztDeploy;
  }
}
