import Type, { type Static } from 'typebox';
import { Timestamp, Uuid } from './common.ts';

export const SECRET_PATTERN = '^[\\x21-\\x7E]{32,256}$';
export const Top = Type.Integer({ minimum: 1, maximum: 1000, description: 'Page size, 1 to 1000 (default 100).' });

const Scope = Type.Enum(['Account', 'iTwin'], { description: 'Account: events of the whole account; iTwin: events of one iTwin.' });
const CallbackUrl = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'Absolute https:// URL that receives the events (http:// only when the server allows insecure callbacks).',
});
const EventTypes = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
  minItems: 1,
  maxItems: 100,
  uniqueItems: true,
  description: 'Event types to receive; each must be in the catalog (GET /webhooks/event-types).',
});
const Secret = Type.String({
  pattern: SECRET_PATTERN,
  description: 'HMAC key for the Signature header: 32–256 printable ASCII characters without spaces. Generated when omitted.',
});

export const CreateWebhookBody = Type.Object(
  {
    callbackUrl: CallbackUrl,
    scope: Scope,
    scopeId: Type.Optional(Uuid('The iTwin id for scope iTwin; for scope Account it may be omitted (the caller\'s account).')),
    secret: Type.Optional(Secret),
    eventTypes: EventTypes,
  },
  {
    additionalProperties: false,
    title: 'CreateWebhookRequest',
    // Sent as is, it succeeds (the docs page offers it): an Account webhook of the caller's account.
    examples: [{ callbackUrl: 'https://receiver.example.com/hook', scope: 'Account', eventTypes: ['iModels.iModelCreated.v1', 'iModels.namedVersionCreated.v1'] }],
  },
);
export type CreateWebhookBody = Static<typeof CreateWebhookBody>;

export const UpdateWebhookBody = Type.Object(
  {
    active: Type.Optional(Type.Boolean({ description: 'Whether events are delivered.' })),
    callbackUrl: Type.Optional(CallbackUrl),
    eventTypes: Type.Optional(EventTypes),
    secret: Type.Optional(Secret),
  },
  { additionalProperties: false, minProperties: 1, title: 'UpdateWebhookRequest', examples: [{ active: true }] },
);
export type UpdateWebhookBody = Static<typeof UpdateWebhookBody>;

const webhookProperties = {
  id: Uuid('Webhook id.'),
  scope: Scope,
  scopeId: Uuid('The iTwin id or the account id.'),
  active: Type.Boolean(),
  callbackUrl: Type.String(),
  eventTypes: Type.Array(Type.String()),
  created: Timestamp('When the webhook was created.'),
  modified: Timestamp('When the webhook was last changed.'),
};

export const Webhook = Type.Object(webhookProperties, { additionalProperties: false, title: 'Webhook' });
export type Webhook = Static<typeof Webhook>;

/** The answer to a create, or to an update that set a new secret: the only time the secret is shown. */
export const WebhookWithSecret = Type.Object(
  { ...webhookProperties, secret: Type.Optional(Type.String({ description: 'Only in the answer to a create or to an update that changed it.' })) },
  { additionalProperties: false, title: 'WebhookWithSecret' },
);

const Link = Type.Object({ href: Type.String() }, { additionalProperties: false });

export const WebhookList = Type.Object(
  {
    webhooks: Type.Array(Webhook),
    _links: Type.Object({ self: Link, next: Type.Optional(Link) }, { additionalProperties: false }),
  },
  { additionalProperties: false, title: 'WebhookList' },
);

export const ListQuery = Type.Object(
  {
    $top: Type.Optional(Top),
    $continuationToken: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'Opaque token from _links.next.' })),
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

export const WebhookIdParams = Type.Object({ webhookId: Type.String({ description: 'Webhook id (UUID).' }) });
export type WebhookIdParams = Static<typeof WebhookIdParams>;
