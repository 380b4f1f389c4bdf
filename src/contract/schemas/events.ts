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

export const PublishBody = Type.Union([PublishEvent, PublishBatch], {
  description: 'One event, or {"events": [...]} with up to 1000.',
  // An iTwin the directory does not know, with the account it belongs to: accepted on any server.
  examples: [
    {
      eventType: 'iModels.iModelCreated.v1',
      iTwinId: 'ce40a55a-6954-4de3-85c7-f796c3e423d9',
      accountId: '8d7f0c2e-5b1a-4c3e-9f6d-2a4b6c8d0e1f',
      content: { imodelId: '72640bf2-2173-4276-b896-c157bee0df76', userId: 'e5c7ae4f-2d72-4319-b96a-d46492e4f860' },
    },
  ],
});

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
