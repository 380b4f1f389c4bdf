import type { ClientRecord, ClientsRepo } from '../store/types.ts';
import { generateClientId, generateClientSecret, hashClientSecret, verifyClientSecret } from './clientSecrets.ts';
import { KNOWN_SCOPES } from './scopes.ts';

/**
 * The service applications of the built-in issuer, as the CLI (`clients …`) and the admin
 * API (`/admin/clients`) manage them: both call these, so the rules are the same.
 */

export interface NewClient {
  clientId: string;
  /** Shown once; only its hash is stored. */
  clientSecret: string;
  accountId: string;
  scopes: string[];
  name: string;
  createdAt: number;
}

export class ClientInputError extends Error {
  override name = 'ClientInputError';
  /** The input the problem is about: `name` or `scopes`. */
  readonly target: 'name' | 'scopes';
  constructor(target: 'name' | 'scopes', message: string) {
    super(message);
    this.target = target;
  }
}

/** The longest overlap a rotation may give the previous secret. */
export const MAX_SECRET_OVERLAP_SECONDS = 7 * 86_400;
/** The overlap when none is asked for: a day to roll the new secret out. */
export const DEFAULT_SECRET_OVERLAP_SECONDS = 86_400;

/** Throws a ClientInputError when the name or the scopes of a new client are not acceptable. */
export function checkClientInput(input: { name: string; scopes: string[] }): void {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 100) throw new ClientInputError('name', 'The name must be 1 to 100 characters.');
  const unknown = input.scopes.filter((s) => !KNOWN_SCOPES.includes(s));
  if (unknown.length > 0) throw new ClientInputError('scopes', `Unknown scope ${unknown.join(', ')}; known scopes: ${KNOWN_SCOPES.join(' ')}.`);
  if (input.scopes.length === 0) throw new ClientInputError('scopes', 'The scopes must name at least one scope.');
}

/** Registers a service application with the built-in issuer. */
export async function registerClient(
  clients: Pick<ClientsRepo, 'createClient'>,
  input: { name: string; accountId: string; scopes: string[]; now: number },
): Promise<NewClient> {
  checkClientInput(input);
  const name = input.name.trim();
  const clientId = generateClientId();
  const clientSecret = generateClientSecret();
  const scopes = [...new Set(input.scopes)];
  await clients.createClient({
    clientId,
    name,
    accountId: input.accountId,
    scopes,
    secretHash: await hashClientSecret(clientSecret),
    tokenGeneration: 0,
    createdAt: input.now,
  });
  return { clientId, clientSecret, accountId: input.accountId, scopes, name, createdAt: input.now };
}

/**
 * Gives a client a new secret. The old one keeps working for `overlapSeconds` (0: it stops
 * at once); with `revokeTokens`, every token issued before fails in every process.
 * Undefined when there is no such client.
 */
export async function rotateClientSecret(
  clients: Pick<ClientsRepo, 'rotateClientSecret'>,
  clientId: string,
  opts: { overlapSeconds: number; revokeTokens: boolean; now: number },
): Promise<{ client: ClientRecord; clientSecret: string } | undefined> {
  const clientSecret = generateClientSecret();
  const previousUntil = opts.overlapSeconds > 0 ? opts.now + opts.overlapSeconds * 1000 : undefined;
  const client = await clients.rotateClientSecret(clientId, await hashClientSecret(clientSecret), { previousUntil, revokeTokens: opts.revokeTokens });
  return client && { client, clientSecret };
}

/**
 * Checks a token request's secret against the client's secret and, during a rotation's
 * overlap, its previous one. A failure always costs two hashes, whether the client exists,
 * has a previous secret or neither, so the time taken tells nothing of which.
 */
export async function checkClientSecret(client: ClientRecord | undefined, secret: string, now: number): Promise<boolean> {
  const current = await verifyClientSecret(secret, client?.secretHash);
  if (current) return client !== undefined;
  const previous = client?.previousSecret !== undefined && client.previousSecret.expiresAt > now ? client.previousSecret.hash : undefined;
  return (await verifyClientSecret(secret, previous)) && client !== undefined;
}
