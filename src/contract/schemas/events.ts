import Type from 'typebox';
import { Timestamp, Uuid } from './common.ts';
import { EVENT_TYPE_PATTERN } from './eventTypes.ts';

export const PublishEvent = Type.Object(
  {
    eventType: Type.String({ pattern: EVENT_TYPE_PATTERN, maxLength: 200, description: 'A type of the catalog.' }),
    iTwinId: Uuid('The iTwin the event is about: iTwin webhooks of it receive the event, and every delivery carries it.'),
    accountId: Type.Optional(Uuid('The account that owns the iTwin (its Account webhooks receive the event); may be omitted when the directory knows the iTwin, and says whose it is when it does not.')),
    content: Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, description: 'Must match the type\'s contentSchema.' }),
    messageId: Type.Optional(Uuid('Idempotency key: the same id again within 7 days is accepted once.')),
  },
  { additionalProperties: false, title: 'PublishEvent' },
);

export const PublishBatch = Type.Object(
  { events: Type.Array(PublishEvent, { minItems: 1, maxItems: 1000 }) },
  { additionalProperties: false, title: 'PublishBatch' },
);

export const PublishBody = Type.Union([PublishEvent, PublishBatch], { description: 'One event, or {"events": [...]} with up to 1000.' });

export const PublishResult = Type.Object(
  {
    events: Type.Array(
      Type.Object(
        {
          messageId: Type.String(),
          eventType: Type.String(),
          enqueuedDateTime: Timestamp('When the event was accepted.'),
          matchedWebhooks: Type.Integer({ description: 'Active webhooks that will receive it.' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, title: 'PublishResult' },
);
