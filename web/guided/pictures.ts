/**
 * Simple line pictures for guided mode's help (inline SVG: no emoji font needed, they scale and
 * follow the text colour). Decorative: always `aria-hidden`.
 */
import { svg, html } from 'lit';

const frame = (body: ReturnType<typeof svg>) =>
  html`<svg class="pic" viewBox="0 0 64 64" width="64" height="64" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" stroke-width="3" stroke-linecap="round" stroke-linejoin="round">${body}</svg>`;

/** A phone. */
export const phonePicture = () => frame(svg`<rect x="18" y="6" width="28" height="52" rx="5"/><path d="M28 51h8"/><rect x="24" y="14" width="7" height="7" rx="1.5"/><rect x="33" y="14" width="7" height="7" rx="1.5"/>`);
/** A grid of app tiles. */
export const tilesPicture = () => frame(svg`<rect x="8" y="8" width="20" height="20" rx="4"/><rect x="36" y="8" width="20" height="20" rx="4"/><rect x="8" y="36" width="20" height="20" rx="4"/><rect x="36" y="36" width="20" height="20" rx="4"/>`);
/** A tap: a dot with rings. */
export const tapPicture = () => frame(svg`<circle cx="32" cy="32" r="6" fill="currentColor"/><circle cx="32" cy="32" r="15"/><circle cx="32" cy="32" r="25" stroke-dasharray="4 6"/>`);
/** A house (Home). */
export const homePicture = () => frame(svg`<path d="M10 30 32 11l22 19"/><path d="M16 26v27h32V26"/><path d="M27 53V38h10v15"/>`);
