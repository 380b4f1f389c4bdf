// The delivery body (contract §4): exact bytes, all six members in the hosted API's order, and the event's own enqueue time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { deliveryBody } from '../src/delivery/signing.ts';

test('each body carries its own event enqueue time, whatever order events of several times are sent in', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 4_102_444_800_000 }), { minLength: 1, maxLength: 20 }), (times) => {
      for (const enqueuedAt of times) {
        const body = JSON.parse(deliveryBody({ messageId: 'm', eventType: 't.v1', itwinId: 'i', contentJson: '{"a":"\\u0022"}', enqueuedAt }, 'w'));
        assert.deepEqual(body, { content: { a: '"' }, eventType: 't.v1', enqueuedDateTime: new Date(enqueuedAt).toISOString(), iTwinId: 'i', messageId: 'm', webhookId: 'w' });
        assert.deepEqual(Object.keys(body), ['content', 'eventType', 'enqueuedDateTime', 'iTwinId', 'messageId', 'webhookId']);
      }
    }),
  );
});

test('an event stored before iTwinId was required still gets all six members (iTwinId null)', () => {
  const body = JSON.parse(deliveryBody({ messageId: 'm', eventType: 't.v1', itwinId: undefined, contentJson: '{}', enqueuedAt: 0 }, 'w'));
  assert.deepEqual(Object.keys(body), ['content', 'eventType', 'enqueuedDateTime', 'iTwinId', 'messageId', 'webhookId']);
  assert.equal(body.iTwinId, null);
});
