/**
 * `<fazt-guided-help>`: step-by-step help for the first steps in guided mode, one short step per
 * screen in plain words: put Fazt on the home screen, open an app, come back home.
 */
import { LitElement, html, css, type TemplateResult } from 'lit';
import { canOfferInstall, isInstalled, offerInstall, onInstallOfferChange, platform, type InstallOutcome } from '../lib/install.js';
import { href } from '../lib/router.js';
import { homePicture, phonePicture, tapPicture, tilesPicture } from './pictures.js';
import { base } from '../ui/styles.js';
import { guided } from './guided-styles.js';

/** The wizards there are. */
export type WizardName = 'install' | 'open' | 'home';

interface Step {
  title: string;
  body: () => TemplateResult;
}

/** One help wizard. */
export class FaztGuidedHelp extends LitElement {
  static properties = {
    wizard: {},
    step: { state: true },
    installNote: { state: true },
  };
  static styles = [
    base,
    guided,
    css`
      .step {
        background: var(--card);
        border: 2px solid var(--line);
        border-radius: 18px;
        padding: 1.25rem;
        margin: 1rem 0;
      }
      .count {
        font-weight: 700;
        color: var(--muted);
        margin: 0 0 0.25rem;
      }
      .step h2 {
        font-size: 1.4rem;
      }
      .pic {
        display: block;
        color: var(--accent);
        margin: 0.5rem 0 0.75rem;
      }
      .nav {
        display: grid;
        grid-template-columns: 1fr 1fr;
        gap: 0.75rem;
      }
      .nav > :only-child {
        grid-column: 1 / -1;
      }
      kbd {
        font: inherit;
        font-weight: 700;
        border: 2px solid var(--line-strong);
        border-radius: 8px;
        padding: 0 0.35rem;
      }
      ol {
        padding-left: 1.4rem;
      }
      li {
        margin: 0.35rem 0;
      }
    `,
  ];

  /** Which wizard to show. */
  wizard: WizardName = 'install';
  private step = 0;
  /** What came of the install dialog ('' before it was tried). */
  private installNote: InstallOutcome | '' = '';
  private stopWatching: (() => void) | undefined;

  connectedCallback() {
    super.connectedCallback();
    this.stopWatching = onInstallOfferChange(() => this.requestUpdate());
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    this.stopWatching?.();
  }

  updated(changed: Map<string, unknown>) {
    if (changed.has('wizard')) this.step = 0;
    if (changed.has('step') && changed.get('step') !== undefined) this.renderRoot.querySelector<HTMLElement>('h2')?.focus();
  }

  private steps(): Step[] {
    switch (this.wizard) {
      case 'open':
        return [
          {
            title: 'Find the app',
            body: () => html`${tilesPicture()}
              <p>The home screen shows a big button for every app, with its name in large letters.</p>`,
          },
          {
            title: 'Tap it once',
            body: () => html`${tapPicture()}
              <p>Tap the app's button once. The app opens and fills the screen.</p>`,
          },
          {
            title: 'Use the app',
            body: () => html`<p>Everything you do in the app stays in the app. Nothing you tap there can change the other apps.</p>
              <p>When you are done, come back home with the <strong>Home</strong> button at the top.</p>`,
          },
        ];
      case 'home':
        return [
          {
            title: 'Look at the top of the screen',
            body: () => html`${homePicture()}
              <p>While an app is open, there is a big <strong>Home</strong> button at the top left.</p>`,
          },
          {
            title: 'Tap Home',
            body: () => html`<p>Tap <strong>Home</strong> once. You are back on the screen with all your apps.</p>
              <p>The phone's own Back button works too.</p>`,
          },
        ];
      default:
        return [
          {
            title: 'Why',
            body: () => html`${phonePicture()}
              <p>With Fazt on your home screen, you open it with one tap, like any other app. It works even without internet.</p>`,
          },
          {
            title: 'Add it',
            body: () => this.installStep(),
          },
          {
            title: 'Open it from there',
            body: () => html`<p>Find the new <strong>Fazt</strong> picture on your home screen and tap it. Your apps are waiting there.</p>`,
          },
        ];
    }
  }

  /**
   * The "Add it" step: the browser's own install dialog when it offers one (`beforeinstallprompt`),
   * otherwise the steps of this browser's menu. Never a failure the person did not cause.
   */
  private installStep(): TemplateResult {
    if (isInstalled() || this.installNote === 'accepted') return html`<p class="ok" role="status">Fazt is on your home screen. Nothing more to do here.</p>`;
    if (canOfferInstall())
      return html`<p>Tap the button below, then tap <strong>Install</strong>.</p>
        <button class="big" @click=${this.install}>Add Fazt to the home screen</button>`;
    const note =
      this.installNote === 'dismissed'
        ? html`<p role="status">The install window was closed, so Fazt was not added. You can add it with the browser's menu:</p>`
        : this.installNote === 'unavailable'
        ? html`<p role="status">This browser adds Fazt from its own menu:</p>`
        : '';
    return html`${note}${this.platformSteps()}`;
  }

  /** The browser's own steps to add a page to the home screen, per platform. */
  private platformSteps(): TemplateResult {
    switch (platform()) {
      case 'ios':
        return html`<ol>
          <li>Tap the <strong>Share</strong> button <span aria-hidden="true">(the square with an arrow)</span> at the bottom of Safari.</li>
          <li>Tap <strong>Add to Home Screen</strong>.</li>
          <li>Tap <strong>Add</strong>.</li>
        </ol>`;
      case 'android':
        return html`<ol>
          <li>Tap the menu button <kbd aria-label="three dots">⋮</kbd> at the top right of the browser.</li>
          <li>Tap <strong>Add to Home screen</strong> or <strong>Install app</strong>.</li>
          <li>Tap <strong>Install</strong> or <strong>Add</strong>.</li>
        </ol>`;
      default:
        return html`<ol>
          <li>Look for the install button at the right end of the address bar, or open the browser's menu.</li>
          <li>Choose <strong>Install Fazt</strong>.</li>
        </ol>`;
    }
  }

  private async install() {
    this.installNote = await offerInstall();
  }

  render() {
    const steps = this.steps();
    const i = Math.min(this.step, steps.length - 1);
    const s = steps[i]!;
    const last = i === steps.length - 1;
    return html`<a class="big secondary" href=${href({ screen: 'guided' })}>← Home</a>
      <section class="step" aria-labelledby="step-h">
        <p class="count">Step ${i + 1} of ${steps.length}</p>
        <h2 id="step-h" tabindex="-1">${s.title}</h2>
        ${s.body()}
      </section>
      <div class="nav">
        ${i > 0 ? html`<button class="big secondary" @click=${() => this.step--}>Back</button>` : ''}
        ${last ? html`<a class="big" href=${href({ screen: 'guided' })}>Done</a>` : html`<button class="big" @click=${() => this.step++}>Next</button>`}
      </div>`;
  }
}
customElements.define('fazt-guided-help', FaztGuidedHelp);

declare global {
  interface HTMLElementTagNameMap {
    'fazt-guided-help': FaztGuidedHelp;
  }
}
