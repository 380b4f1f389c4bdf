import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Encrypts secrets at rest (webhook secrets, signing keys) with AES-256-GCM.
 *
 * Each value gets a fresh 96-bit IV; the associated data binds a ciphertext to the row it
 * belongs to (e.g. the webhook id), so a ciphertext copied onto another row fails to open
 * instead of silently lending its secret.
 */
export interface SecretBox {
  seal(plaintext: string, associatedData: string): string;
  open(sealed: string, associatedData: string): string;
}

/**
 * The associated data of each kind of sealed value, in one place: whatever seals a value
 * and whatever opens it must agree on it byte for byte.
 */
export const sealedFor = {
  /** A webhook's signing secret (the webhooks table). */
  webhookSecret: (webhookId: string) => `webhook:${webhookId}`,
  /** The private half of one of the built-in issuer's signing keys. */
  signingKey: (kid: string) => `signing-key:${kid}`,
} as const;

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class KeyError extends Error {
  override name = 'KeyError';
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new KeyError('The encryption key must be 32 bytes.');
  // Made once: given the Buffer, every cipher would make its own key object first, which
  // cost four times the decryption itself (a fan-out to 10,000 webhooks opens 10,000 secrets).
  const secretKey = createSecretKey(key);
  return {
    seal(plaintext, associatedData) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', secretKey, iv);
      cipher.setAAD(Buffer.from(associatedData, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed, associatedData) {
      const [version, ivText, bodyText] = sealed.split('.');
      if (version !== VERSION || ivText === undefined || bodyText === undefined) {
        throw new KeyError('The stored secret has an unknown format.');
      }
      const iv = Buffer.from(ivText, 'base64url');
      const body = Buffer.from(bodyText, 'base64url');
      if (iv.length !== IV_BYTES || body.length < TAG_BYTES) throw new KeyError('The stored secret is truncated.');
      const decipher = createDecipheriv('aes-256-gcm', secretKey, iv);
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      try {
        return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        throw new KeyError('The stored secret cannot be decrypted with this encryption key.');
      }
    },
  };
}

/** Accepts 64 hex characters or the base64 (standard or url-safe) form of 32 bytes. */
export function parseKey(raw: string): Buffer {
  const text = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const key = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === 32) return key;
  }
  throw new KeyError('ENCRYPTION_KEY must be 32 bytes written as 64 hex characters or in base64.');
}

export const KEY_FILE = 'encryption.key';

/**
 * The key from ENCRYPTION_KEY, or from DATA_DIR/encryption.key, which is generated (mode
 * 0600) on first start. Returns the key and whether the file was just created.
 */
export function loadOrCreateKey(raw: string | undefined, dataDir: string): { key: Buffer; created: boolean; looseMode: boolean } {
  if (raw !== undefined) return { key: parseKey(raw), created: false, looseMode: false };
  const path = join(dataDir, KEY_FILE);
  if (existsSync(path)) {
    const looseMode = (statSync(path).mode & 0o077) !== 0;
    try {
      return { key: parseKey(readFileSync(path, 'utf8')), created: false, looseMode };
    } catch {
      throw new KeyError(`${path} does not hold a valid 32-byte key (64 hex characters).`);
    }
  }
  const key = randomBytes(32);
  // 'wx' fails if another process created the file in between; the caller then retries the read.
  writeFileSync(path, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { key, created: true, looseMode: false };
}
