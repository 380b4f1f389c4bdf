import type { Histogram, Registry } from 'prom-client';

/** A histogram with one label, observed by plain counting and read by the registry at scrape. */
export interface CountedHistogram<L extends string> {
  observe(label: L, value: number): void;
}

/**
 * A Prometheus histogram with a single label whose observations cost a few array writes:
 * prom-client's own `observe()` validates and hashes the labels at every call, and delivery
 * attempts are observed by the thousand per second. The registry reads it like any other
 * metric; the text it writes is the same as prom-client's Histogram would write (the
 * tests compare the two).
 */
export function countedHistogram<L extends string>(
  registry: Registry,
  config: { name: string; help: string; labelName: string; buckets: number[] },
): CountedHistogram<L> {
  const { name, help, labelName } = config;
  const bounds = [...config.buckets].sort((a, b) => a - b);
  /** Per label value: observations per bucket (not cumulative; the last one is +Inf), their sum and count. */
  const series = new Map<L, { buckets: number[]; sum: number; count: number }>();

  const metric = {
    name,
    help,
    type: 'histogram' as const,
    aggregator: 'sum' as const,
    async get() {
      const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
      for (const [label, s] of series) {
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
    reset() {
      series.clear();
    },
  };
  registry.registerMetric(metric as unknown as Histogram);

  return {
    observe(label, value) {
      let s = series.get(label);
      if (s === undefined) series.set(label, (s = { buckets: new Array<number>(bounds.length + 1).fill(0), sum: 0, count: 0 }));
      // A value equal to a bound belongs to that bucket (le: less than or equal).
      let i = 0;
      while (i < bounds.length && value > bounds[i]!) i++;
      s.buckets[i]!++;
      s.sum += value;
      s.count++;
    },
  };
}
