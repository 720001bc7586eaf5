/**
 * `<fazt-sign-in>`: the hub's first-run owner setup ("Welcome: set up this node") and the owner's
 * sign-in, by password or by a one-time code printed on the node's machine (`fazt owner login-code`,
 * the way in while strangers keep password sign-in rate limited). Errors are the node's own sentences
 * (too short a password, wrong password, rate limit, used code).
 */
import { LitElement, html, css } from 'lit';
import type { FaztApi } from '../lib/api.js';
import { base } from './styles.js';
import { emit, SESSION_CHANGED } from './events.js';

/** First-run setup (`mode = 'setup'`) or sign-in (`mode = 'login'`) of a hub's owner. */
export class FaztSignIn extends LitElement {
  static properties = {
    api: { attribute: false },
    mode: {},
    codeRequired: { type: Boolean },
    hubLabel: {},
    error: { state: true },
    busy: { state: true },
    useCode: { state: true },
  };
  static styles = [
    base,
    css`
      :host {
        max-width: 28rem;
        margin: 1.5rem auto;
      }
      form button {
        margin-top: 1rem;
        width: 100%;
      }
      .error {
        margin: 0.75rem 0 0;
      }
      button.link {
        margin-top: 0.75rem;
        width: auto;
        background: none;
        border: none;
        padding: 0;
        color: inherit;
        text-decoration: underline;
        cursor: pointer;
      }
    `,
  ];

  /** The hub's API client. */
  api!: FaztApi;
  /** Which form to show. */
  mode: 'setup' | 'login' = 'login';
  /** Whether setup needs the code the node printed (set up from another machine). */
  codeRequired = false;
  /** The hub's name in the header, repeated here so the person knows where they sign in. */
  hubLabel = '';
  private error = '';
  private busy = false;
  /** Sign in with a one-time code instead of the password. */
  private useCode = false;

  render() {
    if (this.mode === 'setup') {
      return html`<section class="card">
        <h2>Welcome: set up Fazt</h2>
        <p class="muted">You are its owner. Choose a password: it keeps your apps and their data on this server yours.</p>
        <form @submit=${this.submit}>
          <label for="pw">Owner password (at least 8 characters)</label>
          <input id="pw" name="password" type="password" autocomplete="new-password" required minlength="8" />
          ${this.codeRequired
            ? html`<label for="code">Setup code (Fazt printed it where it was started)</label>
                <input id="code" name="code" autocomplete="one-time-code" required />`
            : ''}
          ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
          <button type="submit" ?disabled=${this.busy}>Create owner</button>
        </form>
      </section>`;
    }
    return html`<section class="card">
      <h2>Sign in</h2>
      <p class="muted">to ${this.hubLabel || 'this hub'}</p>
      <form @submit=${this.submit}>
        ${this.useCode
          ? html`<label for="login-code">One-time code (run <code>fazt owner login-code</code> on the node's machine)</label>
              <input id="login-code" name="code" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" required />`
          : html`<label for="pw">Owner password</label>
              <input id="pw" name="password" type="password" autocomplete="current-password" required />`}
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
        <button type="submit" ?disabled=${this.busy}>Sign in</button>
      </form>
      <button type="button" class="link" id="toggle-code" @click=${this.toggleCode}>
        ${this.useCode ? 'Use the password instead' : 'Locked out? Use a one-time code'}
      </button>
    </section>`;
  }

  private async toggleCode() {
    this.useCode = !this.useCode;
    this.error = '';
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLInputElement>(this.useCode ? '#login-code' : '#pw')?.focus();
  }

  private async submit(e: SubmitEvent) {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    const password = String(data.get('password') ?? '');
    this.error = '';
    this.busy = true;
    try {
      if (this.mode === 'setup') await this.api.setup(password, data.get('code') ? String(data.get('code')) : undefined);
      else if (this.useCode) await this.api.loginWithCode(String(data.get('code') ?? ''));
      else await this.api.login(password);
      form.reset();
      emit(this, SESSION_CHANGED);
    } catch (err) {
      this.error = (err as Error).message;
      await this.updateComplete;
      this.renderRoot.querySelector<HTMLInputElement>(this.useCode ? '#login-code' : '#pw')?.focus();
    } finally {
      this.busy = false;
    }
  }
}
customElements.define('fazt-sign-in', FaztSignIn);

declare global {
  interface HTMLElementTagNameMap {
    'fazt-sign-in': FaztSignIn;
  }
}
