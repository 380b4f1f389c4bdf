/**
 * The data store: one interface, one implementation per database (SQLite embedded,
 * PostgreSQL for scale), both held to the same conformance suite. Dialect-specific SQL
 * stays inside each implementation. Times are Unix milliseconds; secrets arrive sealed
 * (see crypto/secretBox) and the store never sees them in clear.
 */

export type WebhookScope = 'Account' | 'iTwin';

export interface ClientRecord {
  clientId: string;
  name: string;
  accountId: string;
  scopes: string[];
  /** scrypt hash of the client secret; the secret itself is never stored. */
  secretHash: string;
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
}

export interface WebhookPatch {
  active?: boolean;
  callbackUrl?: string;
  eventTypes?: string[];
  secretSealed?: string;
}

/** A keyset page: `nextCursor` is present only when more items remain. */
export interface Page<T> {
  items: T[];
  nextCursor: number | undefined;
}

export interface ClientsRepo {
  createClient(client: ClientRecord): Promise<void>;
  getClient(clientId: string): Promise<ClientRecord | undefined>;
  listClients(): Promise<ClientRecord[]>;
  /** Removes the client, its directory entries and its webhooks. */
  deleteClient(clientId: string): Promise<{ deleted: boolean; webhooks: number }>;
}

export interface SigningKeysRepo {
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Inserts the key only if the store holds none, so processes starting together agree on one. */
  insertFirstSigningKey(key: SigningKeyRecord): Promise<void>;
}

export interface DirectoryRepo {
  putItwin(itwinId: string, accountId: string, now: number): Promise<void>;
  removeItwin(itwinId: string): Promise<boolean>;
  listItwins(accountId?: string): Promise<ItwinRecord[]>;
  getItwinAccount(itwinId: string): Promise<string | undefined>;

  grant(clientId: string, itwinId: string, permission: string, now: number): Promise<void>;
  revoke(clientId: string, itwinId: string, permission: string): Promise<boolean>;
  listGrants(filter: { clientId?: string; itwinId?: string }): Promise<GrantRecord[]>;
  hasGrant(clientId: string, itwinId: string, permission: string): Promise<boolean>;

  addOrgAdmin(clientId: string, accountId: string, now: number): Promise<void>;
  removeOrgAdmin(clientId: string, accountId: string): Promise<boolean>;
  listOrgAdmins(accountId?: string): Promise<OrgAdminRecord[]>;
  isOrgAdmin(clientId: string, accountId: string): Promise<boolean>;
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
  createWebhook(webhook: WebhookRecord): Promise<void>;
  /** Only the owner's webhooks are visible: anything else is undefined, exactly like a missing one. */
  getWebhook(ownerClientId: string, id: string): Promise<WebhookRecord | undefined>;
  listWebhooks(ownerClientId: string, limit: number, afterCursor: number | undefined): Promise<Page<WebhookRecord>>;
  updateWebhook(ownerClientId: string, id: string, patch: WebhookPatch, now: number): Promise<WebhookRecord | undefined>;
  deleteWebhook(ownerClientId: string, id: string): Promise<boolean>;
}

export interface Store extends ClientsRepo, SigningKeysRepo, DirectoryRepo, EventTypesRepo, WebhooksRepo {
  readonly kind: 'sqlite' | 'postgres';
  /** Key-value metadata (e.g. the encryption key check value). */
  getMeta(key: string): Promise<string | undefined>;
  setMetaIfAbsent(key: string, value: string): Promise<string>;
  /** Resolves when the database answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
