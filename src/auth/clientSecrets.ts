import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import pLimit, { type LimitFunction } from 'p-limit';

/**
 * Client secrets are stored as scrypt hashes; verification is constant-time, and a
 * lookup of an unknown client still pays for one hash so that response time does not
 * tell which client ids exist.
 */

const PARAMS = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

/** Too many hashes are waiting already; the caller should answer "try again shortly". */
export class HashQueueFullError extends Error {
  override name = 'HashQueueFullError';
}

/**
 * Runs scrypt on Node's thread pool, at most `concurrency` at once, with at most `maxQueued`
 * waiting. scrypt takes a pool thread for tens of milliseconds; unbounded, a flood of
 * failed logins fills all four threads, and everything else that needs one (DNS lookups of
 * callbacks, file system calls) queues behind every hash. One at a time leaves the others
 * free whatever arrives.
 */
export interface SecretHasher {
  hash(secret: string): Promise<string>;
  /** Verifies `secret` against `hash`; with no hash (unknown client) it still does the same work and returns false. */
  verify(secret: string, hash: string | undefined): Promise<boolean>;
  /** Hashes running and waiting right now, and how many have been computed so far. */
  load(): { active: number; queued: number; done: number };
}

function scryptAsync(secret: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function generateClientId(): string {
  return `service-${randomBytes(12).toString('hex')}`;
}

const DUMMY_HASH = `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(KEY_LENGTH).toString('base64url')}`;

export function createSecretHasher(options: { concurrency: number; maxQueued: number }): SecretHasher {
  const limit: LimitFunction = pLimit(options.concurrency);
  let done = 0;
  const run = (secret: string, salt: Buffer, keylen: number, params: ScryptOptions): Promise<Buffer> => {
    if (limit.pendingCount >= options.maxQueued) return Promise.reject(new HashQueueFullError('Too many client secrets are being checked at once.'));
    return limit(() => scryptAsync(secret, salt, keylen, params).finally(() => done++));
  };
  return {
    async hash(secret) {
      const salt = randomBytes(16);
      const key = await run(secret, salt, KEY_LENGTH, PARAMS);
      return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
    },
    async verify(secret, hash) {
      const parts = (hash ?? DUMMY_HASH).split('$');
      if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
      const [, n, r, p, saltText, keyText] = parts as [string, string, string, string, string, string];
      const expected = Buffer.from(keyText, 'base64url');
      const actual = await run(secret, Buffer.from(saltText, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
      return timingSafeEqual(actual, expected) && hash !== undefined;
    },
    load: () => ({ active: limit.activeCount, queued: limit.pendingCount, done }),
  };
}

/**
 * The process's hasher. It guards the process's one thread pool, so there is one per
 * process rather than one per caller: two hashers would each take their share of it.
 */
export const secretHasher: SecretHasher = createSecretHasher({ concurrency: 1, maxQueued: 256 });

export const hashClientSecret = (secret: string): Promise<string> => secretHasher.hash(secret);
export const verifyClientSecret = (secret: string, hash: string | undefined): Promise<boolean> => secretHasher.verify(secret, hash);
