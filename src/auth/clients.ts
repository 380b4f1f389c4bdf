import type { ClientsRepo } from '../store/types.ts';
import { generateClientId, generateClientSecret, hashClientSecret } from './clientSecrets.ts';
import { KNOWN_SCOPES } from './scopes.ts';

export interface NewClient {
  clientId: string;
  /** Shown once; only its hash is stored. */
  clientSecret: string;
  accountId: string;
  scopes: string[];
  name: string;
}

export class ClientInputError extends Error {
  override name = 'ClientInputError';
}

/** Throws a ClientInputError when the name or the scopes of a new client are not acceptable. */
export function checkClientInput(input: { name: string; scopes: string[] }): void {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 100) throw new ClientInputError('--name must be 1 to 100 characters.');
  const unknown = input.scopes.filter((s) => !KNOWN_SCOPES.includes(s));
  if (unknown.length > 0) throw new ClientInputError(`Unknown scope ${unknown.join(', ')}; known scopes: ${KNOWN_SCOPES.join(' ')}.`);
  if (input.scopes.length === 0) throw new ClientInputError('--scopes must name at least one scope.');
}

/** Registers a service application with the built-in issuer. */
export async function registerClient(
  clients: ClientsRepo,
  input: { name: string; accountId: string; scopes: string[]; now: number },
): Promise<NewClient> {
  checkClientInput(input);
  const name = input.name.trim();
  const clientId = generateClientId();
  const clientSecret = generateClientSecret();
  await clients.createClient({
    clientId,
    name,
    accountId: input.accountId,
    scopes: input.scopes,
    secretHash: await hashClientSecret(clientSecret),
    createdAt: input.now,
  });
  return { clientId, clientSecret, accountId: input.accountId, scopes: input.scopes, name };
}
