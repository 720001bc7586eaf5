/** Guided mode's look: large type, touch targets of at least 48 px, generous spacing. */
import { css } from 'lit';

/** Styles shared by guided mode's screens (on top of `base`). */
export const guided = css`
  :host {
    font-size: 18px;
    max-width: 40rem;
    margin: 0 auto;
  }
  .big-title {
    font-size: 1.75rem;
    margin: 0.5rem 0;
  }
  .section-title {
    font-size: 1.3rem;
    margin: 1rem 0 0.75rem;
  }
  .lead {
    font-size: 1.15rem;
  }
  .big,
  button.big {
    display: flex;
    align-items: center;
    justify-content: center;
    min-height: 56px;
    padding: 0.75rem 1.25rem;
    font-size: 1.15rem;
    font-weight: 700;
    border-radius: 14px;
    text-align: center;
    text-decoration: none;
    background: var(--accent);
    color: var(--on-accent);
    border: 2px solid transparent;
  }
  .big.secondary {
    background: var(--card);
    color: var(--fg);
    border-color: var(--line-strong);
  }
  button.link {
    min-height: 48px;
    font-size: 1rem;
  }
  input {
    min-height: 52px;
    font-size: 1.2rem;
  }
  :is(a, button, input):focus-visible {
    outline: 4px solid var(--focus);
    outline-offset: 3px;
  }
`;
