/**
 * SSRF-guarded undici connector: resolves the host itself, checks every resolved address, and
 * connects to a checked address (pinned: the socket never performs its own DNS lookup, so a
 * DNS-rebinding answer between check and connect cannot redirect it).
 */
import dns from 'node:dns';
import net from 'node:net';
import { buildConnector as undiciBuildConnector, errors as undiciErrors } from 'undici';
import type { buildConnector } from 'undici';
import type { AddressVerdict } from './ssrf.ts';

export type LookupFn = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
  readonly code = 'ERR_SSRF_BLOCKED';
  readonly verdict: AddressVerdict;
  /** The host name from the callback URL (equal to the address for IP literals). */
  readonly hostname: string;

  constructor(verdict: AddressVerdict, hostname: string) {
    const resolved = hostname !== verdict.address ? ` (resolved from ${hostname})` : '';
    super(`${verdict.reason ?? `callback address ${verdict.address} is not allowed`}${resolved}`);
    this.verdict = verdict;
    this.hostname = hostname;
  }
}

const defaultLookup: LookupFn = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

function stripBrackets(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, hostname: string): Promise<T> {
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new undiciErrors.ConnectTimeoutError(`DNS lookup of ${hostname} timed out after ${timeoutMs}ms`));
    }, timeoutMs);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * An undici connector (pass as `new Agent({ connect: ... })`) that resolves the host itself, checks
 * every resolved address with the guard, refuses the connection if any is refused, and connects to
 * the first allowed address (pinned: no second DNS lookup), keeping the original host name as the
 * TLS servername (SNI + certificate check).
 */
export function createGuardedConnector(opts: {
  guard: (address: string) => AddressVerdict;
  lookup?: LookupFn;
  timeoutMs?: number;
}): buildConnector.connector {
  const { guard } = opts;
  const lookup = opts.lookup ?? defaultLookup;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const connect = undiciBuildConnector({ timeout: timeoutMs });

  return function guardedConnect(options, callback) {
    const hostname = stripBrackets(String(options.hostname ?? ''));

    const connectTo = (address: string, isLiteral: boolean): void => {
      const servername = isLiteral ? undefined : options.servername || hostname;
      try {
        connect({ ...options, hostname: address, servername }, callback);
      } catch (err) {
        queueMicrotask(() => callback(err as Error, null));
      }
    };

    if (net.isIP(hostname) !== 0) {
      // IP literal (already WHATWG-normalized by the URL parser): no DNS, check it directly.
      const verdict = guard(hostname);
      if (!verdict.allowed) {
        const err = new BlockedAddressError(verdict, hostname);
        queueMicrotask(() => callback(err, null));
        return;
      }
      connectTo(hostname, true);
      return;
    }

    let pending: Promise<Array<{ address: string; family: number }>>;
    try {
      pending = withTimeout(Promise.resolve(lookup(hostname)), timeoutMs, hostname);
    } catch (err) {
      queueMicrotask(() => callback(err as Error, null));
      return;
    }
    pending.then(
      (results) => {
        if (!Array.isArray(results) || results.length === 0) {
          const err = Object.assign(new Error(`DNS lookup of ${hostname} returned no addresses`), {
            code: 'ENOTFOUND',
            hostname,
          });
          callback(err, null);
          return;
        }
        let first: string | undefined;
        for (const { address } of results) {
          const verdict = guard(address);
          if (!verdict.allowed) {
            callback(new BlockedAddressError(verdict, hostname), null);
            return;
          }
          first ??= address;
        }
        connectTo(first as string, false);
      },
      (err: unknown) => {
        callback(err instanceof Error ? err : new Error(String(err)), null);
      },
    );
  };
}
