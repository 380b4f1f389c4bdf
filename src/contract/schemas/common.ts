import Type from 'typebox';

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const UUID_RE = new RegExp(UUID_PATTERN);

export const Uuid = (description?: string) =>
  Type.String({ pattern: UUID_PATTERN, format: 'uuid', ...(description === undefined ? {} : { description }) });

/** ISO-8601 UTC with milliseconds, e.g. 2026-11-22T10:00:00.000Z. */
export const Timestamp = (description: string) => Type.String({ format: 'date-time', description });

export const ErrorDetail = Type.Object(
  {
    code: Type.Enum(['MissingRequiredProperty', 'InvalidValue', 'ReadOnlyProperty', 'UnknownProperty']),
    message: Type.String(),
    target: Type.String({ description: 'The property the problem is about.' }),
  },
  { additionalProperties: false },
);

export const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'Machine-readable error code, e.g. WebhookNotFound.' }),
        message: Type.String({ description: 'Human-readable explanation.' }),
        details: Type.Optional(Type.Array(ErrorDetail, { description: 'One entry per validation problem.' })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, title: 'Error' },
);

const errorResponse = (description: string) => ({ ...ErrorBody, description });

/** The error answers every authenticated route can give, for the OpenAPI document. */
export const commonErrors = {
  400: errorResponse('InvalidRequestBody: the body is not parseable JSON.'),
  401: errorResponse('HeaderNotFound or InvalidAuthorizationToken.'),
  403: errorResponse('InsufficientPermissions.'),
  429: errorResponse('TooManyRequests; see the Retry-After header.'),
  500: errorResponse('InternalServerError.'),
};

export const bodyErrors = {
  413: errorResponse('PayloadTooLarge.'),
  415: errorResponse('UnsupportedMediaType: send application/json.'),
};

export { errorResponse };

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

/** UUIDs are compared in lower case everywhere, whatever case a client sent. */
export function normalizeUuid(value: string): string {
  return value.toLowerCase();
}
