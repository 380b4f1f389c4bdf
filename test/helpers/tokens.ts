import { SignJWT, type JWTPayload } from 'jose';
import { loadSigningKeys } from '../../src/auth/issuer.ts';
import type { Harness } from './harness.ts';

/**
 * Signs arbitrary claims with the harness server's own built-in signing key, so tests can
 * present tokens the issuer would never mint (user tokens, expired, wrong audience...).
 */
export async function mintToken(
  h: Harness,
  claims: JWTPayload,
  opts: { issuer?: string; audience?: string; expiresIn?: number; notBefore?: number } = {},
): Promise<string> {
  const [key] = await loadSigningKeys(h.server.deps.store, h.server.deps.box);
  if (key === undefined) throw new Error('no signing key');
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setIssuer(opts.issuer ?? h.config.auth.issuer)
    .setAudience(opts.audience ?? h.config.auth.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expiresIn ?? 3600));
  if (opts.notBefore !== undefined) jwt = jwt.setNotBefore(now + opts.notBefore);
  return jwt.sign(key.privateKey);
}
