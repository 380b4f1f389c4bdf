import Type, { type Static } from 'typebox';

export const EVENT_TYPE_PATTERN = '^[a-z][A-Za-z0-9]*\\.[a-z][A-Za-z0-9]*\\.v[1-9][0-9]*$';

const JsonObject = (description: string) =>
  Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, description });

export const EventType = Type.Object(
  {
    type: Type.String({ description: 'Event type name, <service>.<action>.v<N>.' }),
    service: Type.String({ description: 'The service that emits it (the first part of the name).' }),
    description: Type.String(),
    contentSchema: JsonObject('JSON Schema of the event content.'),
    example: JsonObject('Example content.'),
  },
  { additionalProperties: false, title: 'EventType' },
);

export const EventTypeList = Type.Object({ eventTypes: Type.Array(EventType) }, { additionalProperties: false, title: 'EventTypeList' });

export const RegisterEventTypeBody = Type.Object(
  {
    type: Type.String({ pattern: EVENT_TYPE_PATTERN, maxLength: 200, description: 'New type name, <service>.<action>.v<N>.' }),
    service: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Must equal the first part of the type when given.' })),
    description: Type.String({ minLength: 1, maxLength: 1000 }),
    contentSchema: JsonObject('JSON Schema (draft-07) that every published content must match.'),
    example: JsonObject('Realistic example content; must match contentSchema.'),
  },
  {
    additionalProperties: false,
    title: 'RegisterEventTypeRequest',
    examples: [
      {
        type: 'myService.thingHappened.v1',
        description: 'A thing happened in my service.',
        contentSchema: { type: 'object', required: ['thingId'], properties: { thingId: { type: 'string', format: 'uuid' } } },
        example: { thingId: '0b3c2f5e-6a9d-4f43-9a51-2f7b6c3d8e10' },
      },
    ],
  },
);
export type RegisterEventTypeBody = Static<typeof RegisterEventTypeBody>;
