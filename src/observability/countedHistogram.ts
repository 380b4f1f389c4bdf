import type { Histogram, Registry } from 'prom-client';

/** One label value's observations: per bucket (not cumulative; the last one is +Inf), their sum and count. */
export interface HistogramSeries {
  buckets: number[];
  sum: number;
  count: number;
}

/** A histogram with one label, observed by plain counting and read by the registry at scrape. */
export interface CountedHistogram<L extends string> {
  observe(label: L, value: number): void;
}

/** Adds one observation to `series` (the bucket bounds sorted ascending). */
export function observeInto<L extends string>(series: Map<L, HistogramSeries>, bounds: number[], label: L, value: number): void {
  let s = series.get(label);
  if (s === undefined) series.set(label, (s = { buckets: new Array<number>(bounds.length + 1).fill(0), sum: 0, count: 0 }));
  // A value equal to a bound belongs to that bucket (le: less than or equal).
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  s.buckets[i]!++;
  s.sum += value;
  s.count++;
}

/**
 * Registers a Prometheus histogram with a single label whose series are counted elsewhere
 * (observeInto) and read at scrape: on this thread, or another thread's counts fetched at
 * scrape time. The text the registry writes is the same as prom-client's Histogram would
 * write for the same observations (the tests compare the two).
 */
export function registerSeriesHistogram<L extends string>(
  registry: Registry,
  config: { name: string; help: string; labelName: string; buckets: number[] },
  read: () => Promise<Iterable<[L, HistogramSeries]>>,
): void {
  const { name, help, labelName } = config;
  const bounds = [...config.buckets].sort((a, b) => a - b);
  const metric = {
    name,
    help,
    type: 'histogram' as const,
    aggregator: 'sum' as const,
    async get() {
      const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
      for (const [label, s] of await read()) {
        let cumulative = 0;
        bounds.forEach((le, i) => {
          cumulative += s.buckets[i]!;
          values.push({ labels: { le, [labelName]: label }, value: cumulative, metricName: `${name}_bucket` });
        });
        values.push({ labels: { le: '+Inf', [labelName]: label }, value: s.count, metricName: `${name}_bucket` });
        values.push({ labels: { [labelName]: label }, value: s.sum, metricName: `${name}_sum` });
        values.push({ labels: { [labelName]: label }, value: s.count, metricName: `${name}_count` });
      }
      return { name, help, type: metric.type, values, aggregator: metric.aggregator };
    },
    reset() {},
  };
  registry.registerMetric(metric as unknown as Histogram);
}

/**
 * A Prometheus histogram with a single label whose observations cost a few array writes:
 * prom-client's own `observe()` validates and hashes the labels at every call, and delivery
 * attempts are observed by the thousand per second.
 */
export function countedHistogram<L extends string>(
  registry: Registry,
  config: { name: string; help: string; labelName: string; buckets: number[] },
): CountedHistogram<L> {
  const bounds = [...config.buckets].sort((a, b) => a - b);
  const series = new Map<L, HistogramSeries>();
  registerSeriesHistogram(registry, config, async () => series);
  return { observe: (label, value) => observeInto(series, bounds, label, value) };
}
