/**
 * The one error catalogue. Every non-2xx answer of the API is an ApiError, rendered as
 * `{ "error": { "code", "message", "details"? } }` (contract §1). Code that finds a
 * problem throws one of the factories below; the error handler renders it.
 */

export type DetailCode = 'MissingRequiredProperty' | 'InvalidValue' | 'ReadOnlyProperty' | 'UnknownProperty';

export interface ErrorDetail {
  code: DetailCode;
  message: string;
  target: string;
}

/** The 422 codes, one per kind of request body or query (contract §1). */
export type ValidationCode =
  | 'InvalidCreateWebhookRequest'
  | 'InvalidUpdateWebhookRequest'
  | 'InvalidEventTypeRequest'
  | 'InvalidEventRequest'
  | 'InvalidWebhooksRequest'
  | 'InvalidDeliveriesRequest'
  | 'InvalidStatisticsRequest'
  // The admin API (contract §7)
  | 'InvalidCreateClientRequest'
  | 'InvalidRotateSecretRequest'
  | 'InvalidClientsRequest'
  | 'InvalidItwinsRequest'
  | 'InvalidGrantsRequest'
  | 'InvalidOrgAdminsRequest'
  | 'InvalidItwinRequest'
  | 'InvalidGrantRequest'
  | 'InvalidOrgAdminRequest'
  | 'InvalidDirectorySyncRequest';

const VALIDATION_MESSAGES: Record<ValidationCode, string> = {
  InvalidCreateWebhookRequest: 'Cannot create a webhook. Make sure the request body is valid.',
  InvalidUpdateWebhookRequest: 'Cannot update the webhook. Make sure the request body is valid.',
  InvalidEventTypeRequest: 'Cannot register the event type. Make sure the request body is valid.',
  InvalidEventRequest: 'Cannot publish the event. Make sure the request body is valid.',
  InvalidWebhooksRequest: 'Cannot list webhooks. Make sure the query parameters are valid.',
  InvalidDeliveriesRequest: 'Cannot list deliveries. Make sure the query parameters are valid.',
  InvalidStatisticsRequest: 'Cannot compute statistics. Make sure the query parameters are valid.',
  InvalidCreateClientRequest: 'Cannot create the client. Make sure the request body is valid.',
  InvalidRotateSecretRequest: 'Cannot rotate the client secret. Make sure the request body is valid.',
  InvalidClientsRequest: 'Cannot list clients. Make sure the query parameters are valid.',
  InvalidItwinsRequest: 'Cannot list iTwins. Make sure the query parameters are valid.',
  InvalidGrantsRequest: 'Cannot list grants. Make sure the query parameters are valid.',
  InvalidOrgAdminsRequest: 'Cannot list organization administrators. Make sure the query parameters are valid.',
  InvalidItwinRequest: 'Cannot put the iTwin. Make sure the request is valid.',
  InvalidGrantRequest: 'Cannot change the grant. Make sure the request is valid.',
  InvalidOrgAdminRequest: 'Cannot change the organization administrator. Make sure the request is valid.',
  InvalidDirectorySyncRequest: 'Cannot sync the directory. Make sure the request body is valid.',
};

export class ApiError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string>;

  constructor(statusCode: number, code: string, message: string, details?: ErrorDetail[], headers: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  toBody(): { error: { code: string; message: string; details?: ErrorDetail[] } } {
    return this.details === undefined
      ? { error: { code: this.code, message: this.message } }
      : { error: { code: this.code, message: this.message, details: this.details } };
  }
}

const BEARER = { 'www-authenticate': 'Bearer' };

export const errors = {
  invalidRequestBody: (message = 'The request body is not valid JSON.') =>
    new ApiError(400, 'InvalidRequestBody', message),
  headerNotFound: () =>
    new ApiError(401, 'HeaderNotFound', 'Header Authorization was not found in the request. Access denied.', undefined, BEARER),
  invalidToken: (message = 'The provided authorization token is not valid.') =>
    new ApiError(401, 'InvalidAuthorizationToken', message, undefined, { 'www-authenticate': 'Bearer error="invalid_token"' }),
  insufficientPermissions: (message = 'The user has insufficient permissions for the requested operation.') =>
    new ApiError(403, 'InsufficientPermissions', message),
  webhookNotFound: () => new ApiError(404, 'WebhookNotFound', 'Requested webhook is not available.'),
  deliveryNotFound: () => new ApiError(404, 'DeliveryNotFound', 'Requested delivery is not available.'),
  attemptNotFound: () => new ApiError(404, 'AttemptNotFound', 'Requested attempt is not available.'),
  clientNotFound: () => new ApiError(404, 'ClientNotFound', 'Requested client is not available.'),
  itwinNotFound: () => new ApiError(404, 'ItwinNotFound', 'Requested iTwin is not in the directory.'),
  grantNotFound: () => new ApiError(404, 'GrantNotFound', 'Requested grant does not exist.'),
  orgAdminNotFound: () => new ApiError(404, 'OrgAdminNotFound', 'Requested organization administrator does not exist.'),
  routeNotFound: (method: string, url: string) =>
    new ApiError(404, 'RouteNotFound', `Route ${method} ${url.split('?')[0]} was not found.`),
  methodNotAllowed: (method: string, allow: string[]) =>
    new ApiError(405, 'MethodNotAllowed', `Method ${method} is not allowed on this route.`, undefined, { allow: allow.join(', ') }),
  eventTypeAlreadyExists: (type: string) =>
    new ApiError(409, 'EventTypeAlreadyExists', `Event type ${type} already exists.`),
  requestTimeout: () => new ApiError(408, 'RequestTimeout', 'The request was not received in time.'),
  headersTooLarge: () =>
    new ApiError(431, 'RequestHeaderFieldsTooLarge', 'The request line and headers are larger than the 16 KiB the server accepts; shorten the URL or the headers.'),
  payloadTooLarge: (limit: number) =>
    new ApiError(413, 'PayloadTooLarge', `The request body is larger than the ${limit} bytes this route accepts.`),
  unsupportedMediaType: (contentType: string | undefined) =>
    new ApiError(415, 'UnsupportedMediaType', `Content-Type ${contentType ?? '(none)'} is not supported; send application/json.`),
  /** A JSON body nested deeper than MAX_JSON_DEPTH: the route's 422 (400 on a route that validates no body of its own). */
  nestedTooDeep: (code: ValidationCode | undefined, limit: number) => {
    const message = `The body nests objects and arrays deeper than ${limit} levels, the limit for every JSON body.`;
    return code === undefined ? new ApiError(400, 'InvalidRequestBody', message) : new ApiError(422, code, VALIDATION_MESSAGES[code], [detail('InvalidValue', 'body', message)]);
  },
  validation: (code: ValidationCode, details: ErrorDetail[]) =>
    new ApiError(422, code, VALIDATION_MESSAGES[code], details),
  tooManyRequests: (retryAfterSeconds: number) =>
    new ApiError(429, 'TooManyRequests', `Too many requests. Retry after ${retryAfterSeconds} seconds.`, undefined, {
      'retry-after': String(retryAfterSeconds),
    }),
  internal: () => new ApiError(500, 'InternalServerError', 'The server encountered an unexpected error.'),
  serviceUnavailable: (message = 'The service is temporarily unavailable. Try again later.') =>
    new ApiError(503, 'ServiceUnavailable', message, undefined, { 'retry-after': '5' }),
};

export function detail(code: DetailCode, target: string, message: string): ErrorDetail {
  return { code, target, message };
}
