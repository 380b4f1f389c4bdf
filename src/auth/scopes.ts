import { MAINTAINER_PERMISSION } from '../store/types.ts';

/** OAuth2 scopes the API knows (contract §2–§4). */
export const SCOPES = {
  platform: 'itwin-platform',
  read: 'webhooks:read',
  modify: 'webhooks:modify',
  publish: 'webhooks:publish',
  admin: 'webhooks:admin',
} as const;

export const KNOWN_SCOPES: readonly string[] = Object.values(SCOPES);

/** Scopes a new client gets when none are asked for: what a subscriber application needs. */
export const DEFAULT_CLIENT_SCOPES: readonly string[] = [SCOPES.platform, SCOPES.read, SCOPES.modify];

/** Any one of these lets a caller read webhooks. */
export const READ_SCOPES: readonly string[] = [SCOPES.read, SCOPES.modify, SCOPES.platform];
/** Any one of these lets a caller create, change or delete webhooks. */
export const MODIFY_SCOPES: readonly string[] = [SCOPES.modify, SCOPES.platform];

/** The permission on an iTwin that lets an application manage that iTwin's webhooks (defined by the store, which checks it). */
export { MAINTAINER_PERMISSION };
export const KNOWN_PERMISSIONS: readonly string[] = [MAINTAINER_PERMISSION];

export function parseScopeList(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}
