/**
 * The data store: one interface, one implementation per database (SQLite embedded,
 * PostgreSQL for scale), both held to the same conformance suite. Dialect-specific SQL
 * stays inside each implementation. Times are Unix milliseconds; secrets arrive sealed
 * (see crypto/secretBox) and the store never sees them in clear.
 */
import type { DeliveryInsightsRepo } from './insights.ts';
import type { RetentionRepo } from './retention.ts';
import type { OperatorReadsRepo } from './operatorReads.ts';

export type WebhookScope = 'Account' | 'iTwin';

/** The synchronous form of a repository (the SQLite implementation is synchronous underneath). */
export type Sync<T> = { [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : T[K] };

/** The promise-returning form of a synchronous repository (the embedded store seen from another thread). */
export type Async<T> = { [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : T[K] };

export interface ClientRecord {
  clientId: string;
  name: string;
  accountId: string;
  scopes: string[];
  /** scrypt hash of the client secret; the secret itself is never stored. */
  secretHash: string;
  /** After a rotation with an overlap: the previous secret's hash, accepted until `expiresAt`. */
  previousSecret?: { hash: string; expiresAt: number };
  /** Every token names it; raising it ends the tokens issued before. */
  tokenGeneration: number;
  createdAt: number;
}

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  privateJwkSealed: string;
  createdAt: number;
}

export interface ItwinRecord {
  itwinId: string;
  accountId: string;
  createdAt: number;
}

export interface GrantRecord {
  clientId: string;
  itwinId: string;
  permission: string;
  createdAt: number;
}

export interface OrgAdminRecord {
  clientId: string;
  accountId: string;
  createdAt: number;
}

export interface EventTypeRecord {
  type: string;
  service: string;
  description: string;
  contentSchema: Record<string, unknown>;
  example: Record<string, unknown>;
  builtin: boolean;
  createdAt: number;
}

/** Why a webhook was deactivated: by its owner, by the delivery engine, or because its owner lost the right to it. */
export type WebhookDeactivationCause = DeactivationCause | 'owner' | 'accessRevoked' | 'itwinMoved' | 'itwinRemoved';

export interface WebhookRecord {
  id: string;
  ownerClientId: string;
  scope: WebhookScope;
  scopeId: string;
  active: boolean;
  callbackUrl: string;
  eventTypes: string[];
  secretSealed: string;
  createdAt: number;
  modifiedAt: number;
  /** Present while the webhook is inactive because something deactivated it (not on a new webhook). */
  deactivation?: { cause: WebhookDeactivationCause; at: number };
}

export interface WebhookPatch {
  active?: boolean;
  callbackUrl?: string;
  eventTypes?: string[];
  secretSealed?: string;
}

/** The webhook after `patch`, as both stores apply it (read-only fields never change). */
export function applyWebhookPatch(current: WebhookRecord, patch: WebhookPatch, now: number): WebhookRecord {
  const { deactivation: _previous, ...rest } = current;
  const active = patch.active ?? current.active;
  // Activating clears why it was inactive; the owner deactivating it is a cause of its own.
  const deactivation = active ? undefined : current.active ? { cause: 'owner' as const, at: now } : current.deactivation;
  return {
    ...rest,
    ...(deactivation === undefined ? {} : { deactivation }),
    active,
    callbackUrl: patch.callbackUrl ?? current.callbackUrl,
    eventTypes: patch.eventTypes ?? current.eventTypes,
    secretSealed: patch.secretSealed ?? current.secretSealed,
    modifiedAt: now,
  };
}

/** A keyset page: `nextCursor` is present only when more items remain. */
export interface Page<T> {
  items: T[];
  nextCursor: number | undefined;
}

/**
 * A keyset page of a list in creation order: at most `limit` items after the item whose
 * key is `after` (as `listKey` gives it).
 */
export interface KeyPage {
  limit: number;
  after?: string[];
}

/** The keyset position of a listed record: its creation time, then its primary key. */
export const listKey = {
  client: (c: ClientRecord): string[] => [String(c.createdAt), c.clientId],
  itwin: (i: ItwinRecord): string[] => [String(i.createdAt), i.itwinId],
  grant: (g: GrantRecord): string[] => [String(g.createdAt), g.clientId, g.itwinId, g.permission],
  orgAdmin: (o: OrgAdminRecord): string[] => [String(o.createdAt), o.clientId, o.accountId],
};

export interface ClientsRepo {
  createClient(client: ClientRecord): Promise<void>;
  getClient(clientId: string): Promise<ClientRecord | undefined>;
  listClients(filter?: { accountId?: string }, page?: KeyPage): Promise<ClientRecord[]>;
  /**
   * Replaces the client's secret. With `previousUntil`, the secret it had stays valid until
   * then (an overlap for the rollout); with `revokeTokens`, every token issued before fails.
   */
  rotateClientSecret(clientId: string, secretHash: string, opts: { previousUntil?: number; revokeTokens: boolean }): Promise<ClientRecord | undefined>;
  /**
   * Removes the client, its directory entries and its webhooks with their deliveries, in one
   * transaction; every process stops accepting its tokens (see subscribeClientChanges).
   */
  deleteClient(clientId: string): Promise<{ deleted: boolean; webhooks: number; webhookIds: string[] }>;
}

export interface SigningKeysRepo {
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Inserts the key only if the store holds none, so processes starting together agree on one. */
  insertFirstSigningKey(key: SigningKeyRecord): Promise<void>;
}

/** The permission on an iTwin that lets an application manage that iTwin's webhooks. */
export const MAINTAINER_PERMISSION = 'webhooks_maintainer';

/** What a directory change did to webhooks: the active ones whose owner lost the right to them were deactivated. */
export interface DirectoryEffects {
  deactivated: string[];
}

/** One account's whole directory, as a sync sets it. */
export interface AccountDirectory {
  itwins: string[];
  grants: Array<{ clientId: string; itwinId: string; permission: string }>;
  orgAdmins: string[];
}

/** What a sync changed; `moved` are iTwins that belonged to another account before. */
export interface DirectorySyncResult extends DirectoryEffects {
  itwins: { added: string[]; removed: string[]; moved: Array<{ itwinId: string; fromAccountId: string }> };
  grants: { added: AccountDirectory['grants']; removed: AccountDirectory['grants'] };
  orgAdmins: { added: string[]; removed: string[] };
}

/**
 * The embedded directory. Every change that takes a right away (a revoked grant, a removed
 * organization administrator, an iTwin moved to another account or removed) deactivates, in
 * the same transaction, each active iTwin webhook whose owner no longer has the
 * webhooks_maintainer permission on its iTwin nor is Organization Administrator of the
 * account owning it (auth/permissions.ts), and cancels its pending deliveries: it stops
 * matching at once, and its deactivation records why.
 */
export interface DirectoryRepo {
  /** Adds the iTwin or moves it to `accountId`; a move drops every grant on it. */
  putItwin(itwinId: string, accountId: string, now: number): Promise<DirectoryEffects & { created: boolean; movedFrom: string | undefined }>;
  /** Removes the iTwin and the grants on it. */
  removeItwin(itwinId: string, now: number): Promise<DirectoryEffects & { removed: boolean }>;
  getItwin(itwinId: string): Promise<ItwinRecord | undefined>;
  listItwins(filter?: { accountId?: string }, page?: KeyPage): Promise<ItwinRecord[]>;
  getItwinAccount(itwinId: string): Promise<string | undefined>;
  /** The owning account of each known iTwin among `itwinIds` (unknown ones are absent). */
  getItwinAccounts(itwinIds: string[]): Promise<Record<string, string>>;

  /** false when the grant existed already. */
  grant(clientId: string, itwinId: string, permission: string, now: number): Promise<boolean>;
  revoke(clientId: string, itwinId: string, permission: string, now: number): Promise<DirectoryEffects & { revoked: boolean }>;
  listGrants(filter: { clientId?: string; itwinId?: string }, page?: KeyPage): Promise<GrantRecord[]>;
  hasGrant(clientId: string, itwinId: string, permission: string): Promise<boolean>;

  /** false when the client was organization administrator of the account already. */
  addOrgAdmin(clientId: string, accountId: string, now: number): Promise<boolean>;
  removeOrgAdmin(clientId: string, accountId: string, now: number): Promise<DirectoryEffects & { removed: boolean }>;
  listOrgAdmins(filter?: { accountId?: string; clientId?: string }, page?: KeyPage): Promise<OrgAdminRecord[]>;
  isOrgAdmin(clientId: string, accountId: string): Promise<boolean>;

  /** The account's iTwins, the grants on them and its organization administrators. */
  getAccountDirectory(accountId: string): Promise<AccountDirectory>;
  /**
   * Makes the account's directory exactly `desired`, in one transaction: iTwins, grants and
   * administrators that are missing are added (an iTwin of another account moves here), the
   * others removed. Running it again with the same set changes nothing.
   */
  syncAccountDirectory(accountId: string, desired: AccountDirectory, now: number): Promise<DirectorySyncResult>;
}

export interface EventTypesRepo {
  listEventTypes(): Promise<EventTypeRecord[]>;
  getEventTypes(types: string[]): Promise<EventTypeRecord[]>;
  /** false when the type already exists. */
  insertEventType(eventType: EventTypeRecord): Promise<boolean>;
  /** Inserts the built-in types that are missing and refreshes the ones that are present. */
  upsertBuiltinEventTypes(eventTypes: EventTypeRecord[]): Promise<void>;
}

export interface WebhooksRepo {
  /**
   * With `ownerMustExist` (the built-in issuer, whose clients are in this store) the webhook
   * is created only if its owner is a client, atomically with any deletion of that client.
   * With `maxPerOwner`, only while its owner has fewer webhooks (concurrent creations of one
   * owner are serialised for the count).
   */
  createWebhook(webhook: WebhookRecord, opts?: { ownerMustExist?: boolean; maxPerOwner?: number }): Promise<'created' | 'ownerMissing' | 'limitReached'>;
  /** Only the owner's webhooks are visible: anything else is undefined, exactly like a missing one. */
  getWebhook(ownerClientId: string, id: string): Promise<WebhookRecord | undefined>;
  listWebhooks(ownerClientId: string, limit: number, afterCursor: number | undefined): Promise<Page<WebhookRecord>>;
  /**
   * Deactivating cancels the webhook's pending deliveries in the same transaction.
   * Activating an iTwin webhook whose owner may not manage the iTwin rejects with
   * ActivationRefusedError (errors.ts) and changes nothing: checked in the activating
   * transaction, so that a concurrent revocation cannot leave an active webhook behind.
   */
  updateWebhook(ownerClientId: string, id: string, patch: WebhookPatch, now: number): Promise<WebhookRecord | undefined>;
  /** Deletes the webhook with its deliveries: pending ones are never sent. */
  deleteWebhook(ownerClientId: string, id: string): Promise<boolean>;
}

/** What the API reports: a delivery being sent is still `pending`. */
export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'cancelled';

export interface NewEvent {
  messageId: string;
  eventType: string;
  itwinId: string | undefined;
  accountId: string | undefined;
  /** The content as the exact JSON text that will be sent. */
  contentJson: string;
  publisherClientId: string | undefined;
}

export interface PublishedEvent {
  messageId: string;
  eventType: string;
  enqueuedAt: number;
  matchedWebhooks: number;
  /** The messageId was seen within the idempotency window: nothing new was fanned out. */
  duplicate: boolean;
}

export interface EventsRepo {
  /**
   * Stores the events and one pending delivery per matching active webhook, all in one
   * transaction: when this resolves, everything is durable; when it rejects, nothing is.
   * An event whose messageId was published within `idempotencyWindowMs` is not stored
   * again; the first result is returned instead.
   */
  publishEvents(events: NewEvent[], now: number, idempotencyWindowMs: number): Promise<PublishedEvent[]>;
  /** Stores a test event with a single delivery to one webhook, whatever its subscriptions and state. */
  publishTestEvent(event: NewEvent, webhookId: string, now: number): Promise<{ enqueuedAt: number; deliveryId: string }>;
}

/** A delivery leased to a worker, with everything needed to send it. */
export interface ClaimedDelivery {
  id: string;
  webhookId: string;
  /** The application that owns the webhook: the tenant whose share the delivery uses. */
  ownerClientId: string;
  /** 1 for the first attempt. */
  attempt: number;
  callbackUrl: string;
  secretSealed: string;
  messageId: string;
  eventType: string;
  itwinId: string | undefined;
  contentJson: string;
  enqueuedAt: number;
}

export type AttemptOutcome = 'succeeded' | 'retry' | 'failed' | 'gone';

export interface AttemptResult {
  deliveryId: string;
  webhookId: string;
  attempt: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | undefined;
  error: string | undefined;
  /** At most 4 KiB of the response body. */
  responseBody: string | undefined;
  outcome: AttemptOutcome;
  /** For outcome `retry`: when to try again. */
  nextAttemptAt: number | undefined;
}

export type DeactivationCause = 'gone' | 'failing';

export interface CompletionEffects {
  /** Webhooks this batch deactivated, and why. */
  deactivated: Array<{ webhookId: string; cause: DeactivationCause }>;
  /** Results that arrived after their lease had been taken over (their state was left alone). */
  stale: number;
}

export interface ClaimOptions {
  now: number;
  limit: number;
  /** Leases on one webhook's deliveries, across all workers, at most. */
  maxInFlightPerWebhook: number;
  /** Leases on the deliveries of one application's webhooks, across all workers, at most. */
  maxInFlightPerApplication: number;
}

/** What a worker asks for when it leases deliveries. */
export type ClaimRequest = { workerId: string } & ClaimOptions;

/**
 * A store whose API and delivery worker share one process and one writer (the embedded
 * store) can lease, in the publish's own transaction, what the publish made due: the worker
 * sends it at once, without being woken and asking the store again.
 */
export interface ClaimingPublish {
  publishAndClaim(
    events: NewEvent[],
    now: number,
    idempotencyWindowMs: number,
    claim: ClaimRequest,
  ): Promise<{ results: PublishedEvent[]; claimed: ClaimedDelivery[] }>;
}

/** Hears of deliveries that other processes made due (PostgreSQL's LISTEN/NOTIFY). */
export interface DueNotifications {
  /** Calls `onDue` whenever some process published or made a delivery due; returns the unsubscribe. */
  subscribeDue(onDue: () => void): () => void;
}

/** Hears of clients that other processes deleted or whose tokens they revoked (PostgreSQL's LISTEN/NOTIFY). */
export interface ClientChangeNotifications {
  /**
   * Calls `onChange` with the id of each client that some process deleted or whose tokens it
   * revoked, and with undefined whenever notifications may have been missed (a reconnection).
   */
  subscribeClientChanges(onChange: (clientId: string | undefined) => void): () => void;
}

/**
 * What an opened store can do beyond `Store`, known from the moment it is opened: the
 * server chooses its publish path and its delivery worker's lease policy from this, once.
 */
export interface StoreCapabilities {
  /** Leases, in a publish's own transaction, what the publish made due (the embedded store). */
  claimingPublish: ClaimingPublish | undefined;
  /** Wake-ups from other processes' publishes (PostgreSQL). */
  dueNotifications: DueNotifications | undefined;
  /** Client deletions and revocations made by other processes (PostgreSQL); in one process, nothing to hear. */
  clientChanges: ClientChangeNotifications | undefined;
  /**
   * This process is the only delivery worker the store can have (the embedded store admits
   * one server, sqlite/serverLock.ts), so it may lease ahead of what it sends.
   */
  soleDeliveryWorker: boolean;
  /**
   * Settles when the store is lost to this process for good (the embedded store's thread
   * stopped, e.g. after a failed WAL sync): every call fails with StoreUnavailableError from
   * then on, and only a restart of the process helps. Undefined where a store recovers by
   * itself (PostgreSQL reconnects).
   */
  lost: Promise<Error> | undefined;
}

export interface DeliveryQueue {
  /** Records (or renews) a worker's heartbeat; its leases stay valid while it is fresh. */
  heartbeat(workerId: string, now: number): Promise<void>;
  /**
   * Leases up to `limit` due deliveries to `workerId`, round-robin across webhooks, never
   * letting a webhook exceed `maxInFlightPerWebhook` leased deliveries (across all workers).
   */
  claimDeliveries(opts: ClaimRequest): Promise<ClaimedDelivery[]>;
  /**
   * Writes attempt results in one transaction; results for leases the worker lost are
   * recorded but change nothing. With `claim`, the same transaction then leases new due
   * deliveries into the slots the results freed, so that the pipe refills without a
   * second round trip.
   */
  completeDeliveries(
    workerId: string,
    results: AttemptResult[],
    policy: { deactivateFailingAfterMs: number },
    claim?: ClaimOptions,
  ): Promise<CompletionEffects & { claimed: ClaimedDelivery[] }>;
  /** Returns a worker's leased deliveries to the queue, due now (graceful shutdown). */
  releaseWorker(workerId: string, now: number): Promise<number>;
  /**
   * Returns some of a worker's leased deliveries, never sent, to the queue. Here and in
   * every other return of leases, a delivery of a webhook that is no longer active is
   * cancelled instead: it must never be sent.
   */
  releaseDeliveries(workerId: string, deliveryIds: string[], now: number): Promise<number>;
  /**
   * Returns to the queue the deliveries leased to `workerId` before `leasedBefore` that are
   * not in `heldIds`. A claim whose answer never reached the worker (the connection dropped
   * after the commit) leased them; the worker is alive, so the reaper would never take them
   * over, and they would hold their webhook's slots until the process restarts.
   */
  releaseOrphanedLeases(workerId: string, heldIds: string[], leasedBefore: number, now: number): Promise<number>;
  /** Makes idle lanes that have pending deliveries ready again (a safety net; returns how many). */
  repairLanes(now: number): Promise<number>;
  /** Takes over the leases of workers whose heartbeat is older than `leaseTtlMs`. */
  reapExpiredLeases(now: number, leaseTtlMs: number): Promise<number>;
  /** The earliest time a webhook with spare capacity, of an application with spare capacity, has work, for the idle timer. */
  nextReadyAt(maxInFlightPerWebhook: number, maxInFlightPerApplication: number): Promise<number | undefined>;
  deliveryStats(): Promise<{ pending: number; oldestDueAt: number | undefined }>;
}

export interface DeliverySummary {
  id: string;
  webhookId: string;
  messageId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  createdAt: number;
  updatedAt: number;
  /** When the next attempt is due (pending only). */
  nextAttemptAt: number | undefined;
  lastStatusCode: number | undefined;
  lastError: string | undefined;
}

export interface AttemptRecord {
  attempt: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | undefined;
  error: string | undefined;
  responseBody: string | undefined;
}

export interface DeliveryDetail extends DeliverySummary {
  itwinId: string | undefined;
  contentJson: string;
  enqueuedAt: number;
  attemptLog: AttemptRecord[];
}

export interface DeliveryHistoryRepo {
  /** Newest first, keyset-paged; only those of `status` and of `eventType` when given. */
  listDeliveries(
    webhookId: string,
    status: DeliveryStatus | undefined,
    limit: number,
    afterCursor: number | undefined,
    eventType?: string,
  ): Promise<Page<DeliverySummary>>;
  getDelivery(webhookId: string, deliveryId: string): Promise<DeliveryDetail | undefined>;
  /** Makes the delivery due now (a final one becomes pending again); undefined when it does not exist. */
  redeliver(webhookId: string, deliveryId: string, now: number): Promise<DeliverySummary | undefined>;
}

export interface Store
  extends ClientsRepo, SigningKeysRepo, DirectoryRepo, EventTypesRepo, WebhooksRepo, EventsRepo, DeliveryQueue, DeliveryHistoryRepo, DeliveryInsightsRepo, OperatorReadsRepo, RetentionRepo {
  readonly kind: 'sqlite' | 'postgres';
  /** Key-value metadata (e.g. the encryption key check value). */
  getMeta(key: string): Promise<string | undefined>;
  setMetaIfAbsent(key: string, value: string): Promise<string>;
  /** Resolves when the database answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
