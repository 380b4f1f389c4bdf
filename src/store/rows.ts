import type {
  AttemptRecord,
  ClientRecord,
  DeliveryStatus,
  DeliverySummary,
  EventTypeRecord,
  GrantRecord,
  ItwinRecord,
  OrgAdminRecord,
  SigningKeyRecord,
  WebhookDeactivationCause,
  WebhookRecord,
  WebhookScope,
} from './types.ts';

/**
 * Rows as both stores' schemas hold them (the same tables and column names) and the records
 * they map to: one mapping per record, for SQLite and PostgreSQL alike. Booleans are 0/1 in
 * SQLite and booleans in PostgreSQL; times are Unix milliseconds in both.
 */
type Bool = boolean | number;
const bool = (v: Bool): boolean => v === true || v === 1;

export interface ClientRow {
  client_id: string;
  name: string;
  account_id: string;
  scopes: string;
  secret_hash: string;
  previous_secret_hash: string | null;
  previous_secret_expires_at: number | null;
  token_generation: number;
  created_at: number;
}

export const toClient = (r: ClientRow): ClientRecord => ({
  clientId: r.client_id,
  name: r.name,
  accountId: r.account_id,
  scopes: r.scopes.split(' ').filter(Boolean),
  secretHash: r.secret_hash,
  ...(r.previous_secret_hash === null || r.previous_secret_expires_at === null
    ? {}
    : { previousSecret: { hash: r.previous_secret_hash, expiresAt: Number(r.previous_secret_expires_at) } }),
  tokenGeneration: Number(r.token_generation),
  createdAt: r.created_at,
});

export interface SigningKeyRow {
  kid: string;
  alg: string;
  public_jwk: string;
  private_jwk_sealed: string;
  created_at: number;
}

export const toSigningKey = (r: SigningKeyRow): SigningKeyRecord => ({
  kid: r.kid,
  alg: r.alg,
  publicJwk: JSON.parse(r.public_jwk) as Record<string, unknown>,
  privateJwkSealed: r.private_jwk_sealed,
  createdAt: r.created_at,
});

export interface ItwinRow {
  itwin_id: string;
  account_id: string;
  created_at: number;
}

export const toItwin = (r: ItwinRow): ItwinRecord => ({ itwinId: r.itwin_id, accountId: r.account_id, createdAt: r.created_at });

export interface GrantRow {
  client_id: string;
  itwin_id: string;
  permission: string;
  created_at: number;
}

export const toGrant = (r: GrantRow): GrantRecord => ({ clientId: r.client_id, itwinId: r.itwin_id, permission: r.permission, createdAt: r.created_at });

export interface OrgAdminRow {
  client_id: string;
  account_id: string;
  created_at: number;
}

export const toOrgAdmin = (r: OrgAdminRow): OrgAdminRecord => ({ clientId: r.client_id, accountId: r.account_id, createdAt: r.created_at });

export interface EventTypeRow {
  type: string;
  service: string;
  description: string;
  content_schema: string;
  example: string;
  builtin: Bool;
  created_at: number;
}

export const toEventType = (r: EventTypeRow): EventTypeRecord => ({
  type: r.type,
  service: r.service,
  description: r.description,
  contentSchema: JSON.parse(r.content_schema) as Record<string, unknown>,
  example: JSON.parse(r.example) as Record<string, unknown>,
  builtin: bool(r.builtin),
  createdAt: r.created_at,
});

export interface WebhookRow {
  seq: number;
  id: string;
  owner_client_id: string;
  scope: string;
  scope_id: string;
  active: Bool;
  callback_url: string;
  event_types: string;
  secret_sealed: string;
  created_at: number;
  modified_at: number;
  deactivated_at: number | null;
  deactivation_cause: string | null;
}

export const toWebhook = (r: WebhookRow): WebhookRecord => ({
  id: r.id,
  ownerClientId: r.owner_client_id,
  scope: r.scope as WebhookScope,
  scopeId: r.scope_id,
  active: bool(r.active),
  callbackUrl: r.callback_url,
  eventTypes: JSON.parse(r.event_types) as string[],
  secretSealed: r.secret_sealed,
  createdAt: r.created_at,
  modifiedAt: r.modified_at,
  ...(r.deactivation_cause === null || r.deactivated_at === null
    ? {}
    : { deactivation: { cause: r.deactivation_cause as WebhookDeactivationCause, at: Number(r.deactivated_at) } }),
});

/** A delivery joined with its event (`d` and `e`), as the history lists it. */
export interface SummaryRow {
  id: number;
  webhook_id: string;
  message_id: string;
  event_type: string;
  status: string;
  attempts: number;
  created_at: number;
  updated_at: number;
  due_at: number;
  last_status: number | null;
  last_error: string | null;
}

export const SUMMARY_COLUMNS = 'd.id, d.webhook_id, e.message_id, e.event_type, d.status, d.attempts, d.created_at, d.updated_at, d.due_at, d.last_status, d.last_error';

/** `sending`: leased right now. Such a delivery reads `pending` and has no next attempt time until its result is in. */
export const toSummary = (r: SummaryRow, sending: boolean): DeliverySummary => {
  const status = r.status as DeliveryStatus;
  return {
    id: String(r.id),
    webhookId: r.webhook_id,
    messageId: r.message_id,
    eventType: r.event_type,
    status,
    attempts: r.attempts,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    nextAttemptAt: status === 'pending' && !sending ? r.due_at : undefined,
    lastStatusCode: r.last_status ?? undefined,
    lastError: r.last_error ?? undefined,
  };
};

export interface AttemptRow {
  attempt: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_body: string | null;
}

export const toAttempt = (a: AttemptRow): AttemptRecord => ({
  attempt: a.attempt,
  startedAt: a.started_at,
  durationMs: a.duration_ms,
  statusCode: a.status_code ?? undefined,
  error: a.error ?? undefined,
  responseBody: a.response_body ?? undefined,
});

/** The latest attempt, kept on the delivery row (no attempt row for a first success). */
export interface LastAttemptColumns {
  last_started_at: number | null;
  last_duration_ms: number | null;
  last_response_body: string | null;
}

/**
 * A delivery's attempts in order: those in the history table and the latest, on its row
 * (absent on rows written before the row kept it).
 */
export function attemptLog(earlier: AttemptRow[], row: SummaryRow & LastAttemptColumns): AttemptRecord[] {
  const latest: AttemptRow[] =
    row.last_started_at === null
      ? []
      : [{ attempt: row.attempts, started_at: row.last_started_at, duration_ms: row.last_duration_ms!, status_code: row.last_status, error: row.last_error, response_body: row.last_response_body }];
  return [...earlier, ...latest].sort((a, b) => a.started_at - b.started_at || a.attempt - b.attempt).map(toAttempt);
}

/** A delivery id from a URL as the row id it names, or undefined when it cannot name one. */
export const deliveryRowId = (deliveryId: string): number | undefined => (/^[1-9]\d{0,15}$/.test(deliveryId) ? Number(deliveryId) : undefined);
