/**
 * Events the dashboard's screens send up to the shell (bubbling, composed, so they cross shadow roots).
 */

/** Show a short message in the shell's status line (`detail`: the text; `kind`: tone). */
export const TOAST = 'fazt-toast';
/** The session changed (signed in or out): the shell checks it again. */
export const SESSION_CHANGED = 'fazt-session-changed';
/** Apps changed (deploy, rollback, removal): lists reload. */
export const APPS_CHANGED = 'fazt-apps-changed';
/** A call failed because the node could not be reached: the shell probes it again. */
export const UNREACHABLE = 'fazt-unreachable';
/** Guided mode was switched on or off, or its lock changed. */
export const GUIDED_CHANGED = 'fazt-guided-changed';

/** Detail of {@link TOAST}. */
export interface ToastDetail {
  text: string;
  kind?: 'info' | 'error';
}

/** Dispatches a bubbling, composed custom event from `el`. */
export function emit<T>(el: EventTarget, type: string, detail?: T): void {
  el.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
}

/** Shows a message in the shell's status line. */
export function toast(el: EventTarget, text: string, kind: ToastDetail['kind'] = 'info'): void {
  emit<ToastDetail>(el, TOAST, { text, kind });
}
