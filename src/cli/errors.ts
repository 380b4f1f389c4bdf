/** A mistake in how the command was called; printed as one line, exit status 1. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function requireUuid(value: string, what: string): string {
  if (!UUID.test(value)) throw new UsageError(`${what} must be a UUID, got "${value}".`);
  return value.toLowerCase();
}
