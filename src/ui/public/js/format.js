// How times, durations and statuses read on the page.

/** @param {string | undefined} iso */
export function when(iso) {
  if (iso === undefined) return '';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** "12 s ago", "3 min ago", "2 h ago", or the date. @param {string | undefined} iso @param {number} [now] */
export function ago(iso, now = Date.now()) {
  if (iso === undefined) return '';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 0) return `in ${-s < 60 ? `${-s} s` : `${Math.round(-s / 60)} min`}`;
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return when(iso);
}

/** @param {number | undefined} ms */
export function duration(ms) {
  if (ms === undefined) return '';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** @param {number | undefined} rate 0..1 */
export function percent(rate) {
  return rate === undefined ? '–' : `${Math.round(rate * 1000) / 10} %`;
}
