import { api } from '../api.js';
import { DeliveriesChart, DurationChart } from '../charts.js';
import { ErrorNote, PageTitle, usePolling } from '../components.js';
import { html, useState } from '../html.js';
import { go } from '../router.js';

const WINDOWS = [
  [15, 'Last 15 minutes'],
  [60, 'Last hour'],
  [360, 'Last 6 hours'],
  [1440, 'Last 24 hours'],
];

/** Deliveries and attempt durations across all the application's webhooks (or, for an operator, everyone's). */
export function Activity({ path, statsApi, title, query }) {
  const minutes = Number(query.get('minutes') ?? 60);
  const [stats, setStats] = useState(/** @type {any} */ (undefined));
  const [error, setError] = useState(/** @type {any} */ (undefined));
  usePolling(
    async () => {
      try {
        setStats(await api('GET', `${statsApi}?minutes=${minutes}`));
        setError(undefined);
      } catch (err) {
        setError(err);
      }
    },
    10_000,
    [statsApi, minutes],
  );
  return html`<main id="main">
    <${PageTitle}>${title}<//>
    <div class="filters">
      <label for="window">Window</label>
      <select id="window" value=${String(minutes)} onChange=${(e) => go(path, { minutes: e.currentTarget.value })}>
        ${WINDOWS.map(([m, label]) => html`<option value=${String(m)}>${label}</option>`)}
      </select>
    </div>
    <${ErrorNote} error=${error} />
    ${stats !== undefined &&
    html`<div class="charts">
      <${DeliveriesChart} stats=${stats} title="Deliveries per minute" />
      <${DurationChart} stats=${stats} title="Attempt duration" />
    </div>
    <p class="hint">Each minute counts the deliveries created in it, by their state now, and the attempts made on them.</p>`}
  </main>`;
}
