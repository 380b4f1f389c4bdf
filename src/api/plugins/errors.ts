import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StoreUnavailableError } from '../../store/errors.ts';
import { ApiError, errors } from '../../contract/errors.ts';
import { detailsFromSchemaErrors } from '../../contract/validation.ts';

function toApiError(err: FastifyError | ApiError | Error, request: FastifyRequest): ApiError {
  if (err instanceof ApiError) return err;
  // The database is down or restarting: nothing was stored, and the client may retry.
  if (err instanceof StoreUnavailableError) return errors.serviceUnavailable('The data store is not reachable right now; nothing was stored. Retry later.');
  const fe = err as FastifyError;
  if (fe.validation) {
    const config = request.routeOptions.config;
    const code = config.validationCode;
    const root = fe.validationContext === 'querystring' ? 'query' : 'body';
    if (code === undefined) return errors.internal();
    return errors.validation(code, detailsFromSchemaErrors(fe.validation, config.readOnly, root));
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.unsupportedMediaType(request.headers['content-type']);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.payloadTooLarge(request.routeOptions.bodyLimit ?? 0);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.invalidRequestBody('The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.invalidRequestBody();
  }
  if (err instanceof SyntaxError && fe.statusCode === 400) return errors.invalidRequestBody();
  return errors.internal();
}

export function sendApiError(reply: FastifyReply, e: ApiError): FastifyReply {
  return reply.code(e.statusCode).headers(e.headers).type('application/json; charset=utf-8').send(e.toBody());
}

/**
 * Renders every failure in the contract's error shape. Anything that is not a known error
 * becomes a 500 whose body says nothing about the cause; the cause goes to the log.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const apiError = toApiError(err, request);
    if (apiError.statusCode === 503) request.log.warn({ err: err.message }, 'store unavailable');
    else if (apiError.statusCode >= 500) request.log.error({ err }, 'request failed');
    return sendApiError(reply, apiError);
  });

  app.setNotFoundHandler((request, reply) => sendApiError(reply, errors.routeNotFound(request.method, request.url)));
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * Fastify answers an unknown method on a known path with 404; the contract wants 405 with
 * an Allow header. Call after every route is registered: it adds the missing methods of
 * each path, hidden from the OpenAPI document.
 */
export function addMethodNotAllowedRoutes(app: FastifyInstance, routes: Array<{ url: string; methods: string[] }>): void {
  const byUrl = new Map<string, Set<string>>();
  for (const r of routes) {
    const set = byUrl.get(r.url) ?? new Set<string>();
    for (const m of r.methods) set.add(m);
    byUrl.set(r.url, set);
  }
  for (const [url, methods] of byUrl) {
    const missing = METHODS.filter((m) => !methods.has(m));
    if (missing.length === 0) continue;
    const allow = [...methods].filter((m) => m !== 'HEAD' || methods.has('GET')).sort();
    app.route({
      method: missing,
      url,
      schema: { hide: true },
      handler: async (request, reply) => sendApiError(reply, errors.methodNotAllowed(request.method, allow)),
    });
  }
}
