import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { countedHistogram } from '../src/observability/countedHistogram.ts';
import { ATTEMPT_DURATION_BUCKETS } from '../src/observability/metrics.ts';

const outcomes = ['succeeded', 'retry', 'failed', 'gone'] as const;
const CONFIG = { name: 'x_attempt_duration_seconds', help: 'Duration of attempts.' };

/** What each registry writes for the same observations. */
async function both(observations: Array<[(typeof outcomes)[number], number]>) {
  const ours = new Registry();
  const theirs = new Registry();
  const counted = countedHistogram<(typeof outcomes)[number]>(ours, { ...CONFIG, labelName: 'outcome', buckets: ATTEMPT_DURATION_BUCKETS });
  const reference = new Histogram({ ...CONFIG, labelNames: ['outcome'] as const, buckets: ATTEMPT_DURATION_BUCKETS, registers: [theirs] });
  for (const [outcome, seconds] of observations) {
    counted.observe(outcome, seconds);
    reference.observe({ outcome }, seconds);
  }
  return { ours: await ours.metrics(), theirs: await theirs.metrics() };
}

test('the counted histogram writes exactly what prom-client\'s Histogram writes for the same observations', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.constantFrom(...outcomes), fc.oneof(fc.constantFrom(...ATTEMPT_DURATION_BUCKETS, 0, 10.5), fc.double({ min: 0, max: 20, noNaN: true }))), { maxLength: 200 }),
      async (observations) => {
        const { ours, theirs } = await both(observations);
        assert.equal(ours, theirs);
      },
    ),
    { numRuns: 200 },
  );
});

test('bucket counts are cumulative, a value on a bound counts in that bucket, and +Inf is the count', async () => {
  const { ours } = await both([['succeeded', 0.001], ['succeeded', 0.0011], ['succeeded', 30], ['retry', 5]]);
  const line = (l: string) => Number(ours.split('\n').find((x) => x.startsWith(`${l} `))!.slice(l.length + 1));
  assert.equal(line('x_attempt_duration_seconds_bucket{le="0.001",outcome="succeeded"}'), 1);
  assert.equal(line('x_attempt_duration_seconds_bucket{le="0.0025",outcome="succeeded"}'), 2);
  assert.equal(line('x_attempt_duration_seconds_bucket{le="10",outcome="succeeded"}'), 2);
  assert.equal(line('x_attempt_duration_seconds_bucket{le="+Inf",outcome="succeeded"}'), 3);
  assert.equal(line('x_attempt_duration_seconds_count{outcome="succeeded"}'), 3);
  assert.equal(line('x_attempt_duration_seconds_sum{outcome="succeeded"}'), 30.0021);
  assert.equal(line('x_attempt_duration_seconds_bucket{le="2.5",outcome="retry"}'), 0);
  assert.equal(line('x_attempt_duration_seconds_bucket{le="5",outcome="retry"}'), 1);
  assert.ok(!ours.includes('outcome="failed"'), 'an outcome never observed has no series');
});
