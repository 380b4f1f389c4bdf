import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
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
  // A path that routes nowhere (a body method such as QUERY without a Content-Type fails
  // before the not-found handler runs), or a static file outside its folder (@fastify/static
  // says 403): not found, without saying why.
  if (request.is404 || fe.statusCode === 403 || fe.statusCode === 404) return errors.routeNotFound(request.method, request.url);
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) return errors.invalidRequestBody('The request is malformed.');
  return errors.internal();
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (an unknown method such as
 * FOO, a URL or headers over the 16 KiB limit, a malformed request line, a timeout) are
 * answered in the contract's shape too, then the connection is closed, as Node does.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? errors.headersTooLarge()
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? errors.requestTimeout()
        : errors.invalidRequestBody('The request is not valid HTTP/1.1 (an unknown method, a malformed request line or header).');
  writeAndClose(socket, e, err);
}

/** CONNECT asks for a tunnel, which this server never opens: answered 405 rather than a dropped connection. */
export function refuseTunnels(server: Server): void {
  server.on('connect', (request: IncomingMessage, socket: Socket) => writeAndClose(socket, errors.methodNotAllowed(request.method ?? 'CONNECT', [])));
}

function writeAndClose(socket: Socket, e: ApiError, cause?: Error): void {
  const body = JSON.stringify(e.toBody());
  const headers = Object.entries(e.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  if (socket.writable && socket.bytesWritten === 0) {
    socket.write(
      `HTTP/1.1 ${e.statusCode} ${STATUS_CODES[e.statusCode]}\r\nContent-Type: application/json; charset=utf-8\r\n${headers}` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(cause);
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

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'QUERY'] as const;

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
      // Answered at onRequest: a body method (QUERY, POST) must not first be refused for its Content-Type or body.
      onRequest: async (request, reply) => sendApiError(reply, errors.methodNotAllowed(request.method, allow)),
      handler: async (request, reply) => sendApiError(reply, errors.methodNotAllowed(request.method, allow)),
    });
  }
}
