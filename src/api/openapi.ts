import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { KNOWN_SCOPES, SCOPES } from '../auth/scopes.ts';
import { MAX_JSON_DEPTH } from '../contract/jsonDepth.ts';
import { VERSION } from '../version.ts';
import { TOKEN_PATHS } from './routes/oauth.ts';

/**
 * The hosted API's operation names where it has the operation (a client generated from its
 * document keeps its method names), and names in the same style for ours. An operation not
 * listed gets one made from its method and path (see operationIdOf), so none is ever missing.
 */
const OPERATION_IDS: Record<string, string> = {
  'GET /webhooks': 'GetWebhooks',
  'POST /webhooks': 'CreateWebhook',
  'GET /webhooks/{webhookId}': 'GetWebhook',
  'PATCH /webhooks/{webhookId}': 'UpdateWebhook',
  'DELETE /webhooks/{webhookId}': 'DeleteWebhook',
  'GET /webhooks/event-types': 'GetEvents',
  'POST /webhooks/event-types': 'CreateEvent',
  'POST /webhooks/events': 'PublishEvents',
  'GET /webhooks/{webhookId}/deliveries': 'GetDeliveries',
  'GET /webhooks/{webhookId}/deliveries/{deliveryId}': 'GetDelivery',
  'POST /webhooks/{webhookId}/deliveries/{deliveryId}/redeliver': 'RedeliverDelivery',
  'POST /webhooks/{webhookId}/test': 'SendTestEvent',
  'POST /oauth/token': 'GetToken',
  'POST /connect/token': 'GetTokenAtConnectPath',
  'GET /.well-known/jwks.json': 'GetJwks',
  'GET /.well-known/openid-configuration': 'GetOpenIdConfiguration',
  'GET /healthz': 'GetHealth',
  'GET /readyz': 'GetReadiness',
  'GET /metrics': 'GetMetrics',
};

const pascal = (word: string) => word.replace(/(^|[-_.])([a-zA-Z0-9])/g, (_m, _sep, c: string) => c.toUpperCase());

/** `GET /admin/clients/{clientId}` → `GetAdminClientsByClientId`. */
export function operationIdOf(method: string, path: string): string {
  const known = OPERATION_IDS[`${method.toUpperCase()} ${path}`];
  if (known !== undefined) return known;
  const words = path
    .split('/')
    .filter(Boolean)
    .map((s) => (s.startsWith('{') ? `By${pascal(s.slice(1, -1))}` : pascal(s)));
  return pascal(method.toLowerCase()) + words.join('');
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Moves every schema that carries a `title` (our TypeBox schemas name themselves: Webhook,
 * CreateWebhookRequest, Error...) into components.schemas under that name and refers to it,
 * so that a code generator makes one good type of each instead of an anonymous one per use.
 * A use's description stays beside the reference (the same Error answers many statuses);
 * a title that names two different shapes stays inline rather than being merged.
 */
function nameSchemas(doc: Json): void {
  const components = ((doc.components ??= {}) as Json);
  const schemas = ((components.schemas ??= {}) as Record<string, Json>);
  const canonical = new Map<string, string>();
  const name = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(name);
    if (!isObject(node)) return node;
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) out[k] = k === 'example' || k === 'examples' || k === 'default' || k === 'const' || k === 'enum' ? v : name(v);
    const title = out.title;
    if (typeof title !== 'string') return out;
    const { description, ...shape } = out;
    const text = JSON.stringify(shape);
    const known = canonical.get(title);
    if (known === undefined) {
      canonical.set(title, text);
      schemas[title] = shape;
    } else if (known !== text) {
      return out;
    }
    return description === undefined ? { $ref: `#/components/schemas/${title}` } : { $ref: `#/components/schemas/${title}`, description };
  };
  for (const ops of Object.values(doc.paths as Record<string, Json>)) {
    for (const op of Object.values(ops) as Json[]) {
      const body = (op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined;
      for (const media of Object.values(body ?? {})) media.schema = name(media.schema);
      for (const answer of Object.values((op.responses ?? {}) as Record<string, Json>)) {
        for (const media of Object.values((answer.content ?? {}) as Record<string, Json>)) media.schema = name(media.schema);
      }
    }
  }
}

/**
 * The @fastify/swagger options: the document's header, the security schemes (a bearer token,
 * and with the built-in issuer OAuth2 client credentials, so that the docs page's Authorize
 * button signs in with a client id and secret), and the finishing pass over the generated
 * document (operation ids, named schemas, both schemes on every authenticated operation).
 */
export function swaggerOptions(options: { builtinIssuer: boolean }): FastifyDynamicSwaggerOptions {
  const oauth2 = {
    type: 'oauth2' as const,
    description: 'Client credentials of a service application registered with the built-in issuer (itwin-webhooks clients create).',
    flows: {
      clientCredentials: {
        // Relative: resolved against the address the document was read from.
        tokenUrl: TOKEN_PATHS[1],
        scopes: Object.fromEntries(KNOWN_SCOPES.map((s) => [s, SCOPE_TEXT[s] ?? s])),
      },
    },
  };
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'iTwin Platform Webhooks API (self-hosted)',
        version: VERSION,
        description:
          'The iTwin Platform Webhooks API v2, self-hosted: manage webhook subscriptions, publish events and inspect deliveries. ' +
          'Errors use the shape {"error": {"code", "message", "details"?}}. ' +
          `A JSON body may nest objects and arrays at most ${MAX_JSON_DEPTH} levels deep (the body's own object is level 1); deeper is a 422 naming the limit. ` +
          'The request line and headers may be at most 16 KiB (431).',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http' as const, scheme: 'bearer', bearerFormat: 'JWT' },
          ...(options.builtinIssuer ? { oauth2 } : {}),
        },
      },
      tags: [
        { name: 'Webhooks', description: 'Webhook subscriptions of the calling application.' },
        { name: 'Event types', description: 'The catalog of event types.' },
        { name: 'Events', description: 'Publishing events (platform producers).' },
        { name: 'Deliveries', description: 'Delivery history, redelivery and test events of a webhook.' },
        { name: 'OAuth2', description: 'The built-in authorization server (client credentials).' },
        { name: 'Operations', description: 'Health, readiness and metrics.' },
        { name: 'Admin', description: 'Operators (scope webhooks:admin): every application\'s webhooks and their history, read-only.' },
        { name: 'Admin: clients', description: 'Service applications of the built-in issuer (scope webhooks:admin).' },
        { name: 'Admin: directory', description: 'The embedded directory: iTwins, grants, Organization Administrators (scope webhooks:admin).' },
      ],
    },
    transformObject: (documentObject) => {
      const doc = structuredClone((documentObject as { openapiObject: Json }).openapiObject);
      for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
        for (const [method, op] of Object.entries(ops)) {
          op.operationId ??= operationIdOf(method, path);
          const security = op.security as Array<Record<string, string[]>> | undefined;
          if (options.builtinIssuer && security?.some((s) => 'bearer' in s) === true) op.security = [{ oauth2: [] }, ...security];
        }
      }
      nameSchemas(doc);
      return doc;
    },
  };
}

const SCOPE_TEXT: Record<string, string> = {
  [SCOPES.platform]: 'Read and change the webhooks of the application (as the hosted API\'s itwin-platform).',
  [SCOPES.read]: 'Read the webhooks of the application and their deliveries.',
  [SCOPES.modify]: 'Create, change and delete the webhooks of the application.',
  [SCOPES.publish]: 'Publish events (platform producers).',
  [SCOPES.admin]: 'Register event types; operate the service (admin API).',
};
