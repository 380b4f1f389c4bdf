// Charts of the statistics the server computes (GET .../statistics), drawn as plain SVG:
// stacked bars of deliveries per minute by state, and lines of attempt-duration
// percentiles. Colours come from classes in app.css; every chart has a text summary.
import { html } from './html.js';
import { duration } from './format.js';

export const DELIVERY_STATES = /** @type {const} */ (['succeeded', 'retrying', 'pending', 'failed', 'cancelled']);
const W = 600;
const H = 160;
const PAD = { left: 50, right: 8, top: 8, bottom: 22 };

const clock = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

/** A rounded-up axis maximum: 1, 2, 5, 10, 20, 50, ... @param {number} v */
function niceMax(v) {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v) ?? 10 * p;
}

function Axes({ buckets, max, format }) {
  const x0 = PAD.left;
  const y0 = H - PAD.bottom;
  const last = buckets.length - 1;
  const ticks = [0, Math.floor(last / 2), last].filter((v, i, a) => a.indexOf(v) === i);
  const xOf = (i) => x0 + ((i + 0.5) * (W - PAD.left - PAD.right)) / buckets.length;
  return html`
    <line class="axis" x1=${x0} y1=${PAD.top} x2=${x0} y2=${y0} />
    <line class="axis" x1=${x0} y1=${y0} x2=${W - PAD.right} y2=${y0} />
    <text class="tick" x=${x0 - 4} y=${PAD.top + 8} text-anchor="end">${format(max)}</text>
    <text class="tick" x=${x0 - 4} y=${y0} text-anchor="end">0</text>
    ${ticks.map((i) => html`<text class="tick" x=${i === 0 ? x0 : i === last ? W - PAD.right : xOf(i)} y=${H - 6} text-anchor=${i === 0 ? 'start' : i === last ? 'end' : 'middle'}>${clock(buckets[i].start)}</text>`)}
  `;
}

/** Deliveries created per minute, stacked by their state now. @param {{ stats: any, title: string }} props */
export function DeliveriesChart({ stats, title }) {
  const buckets = stats.buckets;
  const totals = stats.totals.deliveries;
  const sum = (d) => DELIVERY_STATES.reduce((n, k) => n + d[k], 0);
  const max = niceMax(Math.max(0, ...buckets.map((b) => sum(b.deliveries))));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const bw = plotW / buckets.length;
  const summary = `${title}: ${DELIVERY_STATES.map((k) => `${totals[k]} ${k}`).join(', ')} in the last ${buckets.length} minutes.`;
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${summary}>
      ${buckets.map((b, i) => {
        let y = PAD.top + plotH;
        return html`<g>
          <title>${`${clock(b.start)}: ${DELIVERY_STATES.filter((k) => b.deliveries[k] > 0).map((k) => `${b.deliveries[k]} ${k}`).join(', ') || 'none'}`}</title>
          ${DELIVERY_STATES.map((k) => {
            const hgt = (b.deliveries[k] / max) * plotH;
            y -= hgt;
            return hgt > 0 ? html`<rect class=${`s-${k}`} x=${PAD.left + i * bw + bw * 0.1} y=${y} width=${Math.max(bw * 0.8, 0.5)} height=${hgt} />` : null;
          })}
        </g>`;
      })}
      <${Axes} buckets=${buckets} max=${max} format=${String} />
    </svg>
    <ul class="legend">
      ${DELIVERY_STATES.map((k) => html`<li><span class=${`swatch s-${k}`} aria-hidden="true"></span>${k} <strong>${totals[k]}</strong></li>`)}
    </ul>
  </figure>`;
}

const LINES = /** @type {const} */ (['p50', 'p90', 'p99']);

/** Attempt durations per minute: p50, p90 and p99. @param {{ stats: any, title: string }} props */
export function DurationChart({ stats, title }) {
  const buckets = stats.buckets;
  const overall = stats.totals.attempts;
  const max = niceMax(Math.max(1, ...buckets.map((b) => b.attempts.durationMs?.p99 ?? 0)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const xOf = (i) => PAD.left + ((i + 0.5) * plotW) / buckets.length;
  const yOf = (v) => PAD.top + plotH - (v / max) * plotH;
  /** Polyline segments over the buckets that had attempts. @param {'p50' | 'p90' | 'p99'} k */
  const segments = (k) => {
    const out = [];
    let cur = [];
    buckets.forEach((b, i) => {
      const v = b.attempts.durationMs?.[k];
      if (v === undefined) {
        if (cur.length > 0) out.push(cur);
        cur = [];
      } else cur.push(`${xOf(i)},${yOf(v)}`);
    });
    if (cur.length > 0) out.push(cur);
    return out;
  };
  const d = overall.durationMs;
  const summary =
    d === undefined
      ? `${title}: no attempts in the last ${buckets.length} minutes.`
      : `${title}: p50 ${duration(d.p50)}, p90 ${duration(d.p90)}, p99 ${duration(d.p99)}, max ${duration(d.max)} over ${overall.succeeded + overall.failed} attempts.`;
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${summary}>
      ${LINES.map((k) =>
        segments(k).map((pts) =>
          pts.length === 1
            ? html`<circle class=${`l-${k}`} cx=${pts[0].split(',')[0]} cy=${pts[0].split(',')[1]} r="2" />`
            : html`<polyline class=${`line l-${k}`} points=${pts.join(' ')} />`,
        ),
      )}
      <${Axes} buckets=${buckets} max=${max} format=${(v) => duration(v)} />
    </svg>
    <ul class="legend">
      ${LINES.map((k) => html`<li><span class=${`swatch l-${k}`} aria-hidden="true"></span>${k} <strong>${d === undefined ? '–' : duration(d[k])}</strong></li>`)}
      <li>attempts <strong>${overall.succeeded}</strong> ok, <strong>${overall.failed}</strong> failed</li>
    </ul>
  </figure>`;
}
