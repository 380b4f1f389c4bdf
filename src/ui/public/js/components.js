// Small pieces every page uses.
import { html, useEffect, useRef, useState } from './html.js';

/** The API's error, in words, with its code. @param {{ error: any }} props */
export function ErrorNote({ error }) {
  if (error === undefined || error === null) return null;
  const code = error.code && error.code !== 'Error' ? ` (${error.code})` : '';
  return html`<p class="error" role="alert">${String(error.message ?? error)}${code}</p>`;
}

/** @param {{ status: string }} props */
export function StatusBadge({ status }) {
  return html`<span class=${`badge badge-${status}`}>${status}</span>`;
}

/** @param {{ active: boolean }} props */
export function ActiveBadge({ active }) {
  return html`<span class=${`badge ${active ? 'badge-succeeded' : 'badge-cancelled'}`}>${active ? 'active' : 'inactive'}</span>`;
}

/** Pretty-printed JSON, as text. @param {{ value: unknown, label?: string }} props */
export function Json({ value, label }) {
  return html`<pre class="json" tabindex="0" aria-label=${label ?? 'JSON'}>${JSON.stringify(value, null, 2)}</pre>`;
}

/** A button that copies `text` to the clipboard. @param {{ text: string, label?: string }} props */
export function CopyButton({ text, label = 'Copy' }) {
  const [state, setState] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('Copied');
    } catch {
      setState('Copy failed: select the text and copy it');
    }
  };
  return html`<button type="button" class="secondary" onClick=${copy}>${label}</button><span class="hint" aria-live="polite">${state}</span>`;
}

/**
 * The messages of an API validation error by form field: `callbackUrl`, `eventTypes[2]`
 * and `eventTypes` all belong to their top-level property.
 * @param {any} error @returns {Record<string, string[]>}
 */
export function fieldErrors(error) {
  /** @type {Record<string, string[]>} */
  const out = {};
  for (const d of error?.details ?? []) {
    const field = String(d.target ?? '').split(/[.[]/)[0] || '_';
    (out[field] ??= []).push(d.message);
  }
  return out;
}

/** The messages under a field, tied to it with aria-describedby (id `${id}-error`). @param {{ id: string, messages?: string[] }} props */
export function FieldError({ id, messages }) {
  if (messages === undefined || messages.length === 0) return null;
  return html`<div class="field-error" id=${`${id}-error`}>${messages.map((m) => html`<div>${m}</div>`)}</div>`;
}

/**
 * Calls `load` now and every `ms` while the page is visible (live pages poll; a hidden tab
 * does not), until the page goes away or `load` answers 'stop' (what it shows is gone).
 * @param {(signal: AbortSignal) => Promise<void | 'stop'>} load @param {number} ms @param {unknown[]} deps
 */
export function usePolling(load, ms, deps) {
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    const controller = new AbortController();
    let timer;
    const tick = async () => {
      if (document.visibilityState === 'visible') {
        try {
          if ((await latest.current(controller.signal)) === 'stop') return;
        } catch {
          // The page shows its own errors; polling goes on.
        }
      }
      if (!controller.signal.aborted) timer = setTimeout(tick, ms);
    };
    void tick();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, deps);
}

/** The answer of a page's poll after an error: a 404 stops it (the webhook or delivery is gone or was never visible). */
export const afterError = (err) => (err?.status === 404 ? 'stop' : undefined);

/** The page's heading; it takes the focus when the page changes, for keyboard and screen-reader users. @param {{ children: any }} props */
export function PageTitle({ children }) {
  const ref = useRef(null);
  useEffect(() => {
    /** @type {HTMLElement | null} */ (ref.current)?.focus();
  }, []);
  return html`<h1 tabindex="-1" ref=${ref}>${children}</h1>`;
}

/**
 * A secret shown once: after this page it cannot be read again. The follow-on link comes as children.
 * @param {{ title: string, intro: any, label?: string, secret: string, children?: any }} props
 */
export function SecretOnce({ title, intro, label = 'Secret', secret, children }) {
  return html`<section class="card secret-once" aria-labelledby="secret-title">
    <h2 id="secret-title">${title}</h2>
    <p>Store it now: it is shown this once and never again. ${intro}</p>
    <label for="secret-value">${label}</label>
    <input id="secret-value" class="mono" readonly value=${secret} onFocus=${(e) => e.currentTarget.select()} />
    <${CopyButton} text=${secret} label=${`Copy ${label.toLowerCase()}`} />
    ${children}
  </section>`;
}

/**
 * Asks before something that cannot be undone.
 * @param {{ text: string, yes: string, onYes: () => void, onNo: () => void }} props
 */
export function Confirm({ text, yes, onYes, onNo }) {
  return html`<div class="confirm" role="alertdialog" aria-labelledby="confirm-text">
    <p id="confirm-text">${text}</p>
    <button type="button" class="danger" onClick=${onYes}>${yes}</button>
    <button type="button" class="secondary" onClick=${onNo}>Keep it</button>
  </div>`;
}
