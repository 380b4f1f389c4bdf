import type { Dispatcher } from 'undici';

/** What the sender needs of a receiver's answer. */
export interface PostResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /** The first `keepBytes` of the body (undefined when it was empty). */
  body: Buffer | undefined;
}

export interface PostOptions {
  /** The whole attempt (connect, request, headers and body) must end within this. */
  timeoutMs: number;
  /** Bytes of the body kept for the history. */
  keepBytes: number;
  /** The body is read to its end (a slow body counts against the timeout) but no further than this. */
  readLimitBytes: number;
  /** Where a URL goes (createTargetCache). */
  target: (url: string) => Target;
}

/** The error an attempt ends with when it runs past its deadline. */
export class AttemptTimeoutError extends Error {
  override name = 'TimeoutError';
}

/** A callback URL split as undici's dispatcher takes it. */
interface Target {
  origin: string;
  path: string;
}

/**
 * Parsed callback URLs, kept because the same few URLs are posted to over and over (one
 * cache per sender, bounded: emptied when full).
 */
export function createTargetCache(limit = 10_000): (url: string) => Target {
  const targets = new Map<string, Target>();
  return (url) => {
    let t = targets.get(url);
    if (t === undefined) {
      const u = new URL(url);
      t = { origin: u.origin, path: `${u.pathname}${u.search}` };
      if (targets.size >= limit) targets.clear();
      targets.set(url, t);
    }
    return t;
  };
}

/**
 * POSTs one body through undici's dispatcher and resolves with the status, the headers and
 * the start of the body; rejects with undici's error (or AttemptTimeoutError). Built on the
 * handler interface rather than `request()`: a delivery needs neither a response stream nor
 * an abort signal, and at thousands of attempts per second those were a sizeable share of
 * the sending thread's time and garbage.
 */
export function postOnce(agent: Dispatcher, url: string, headers: Record<string, string>, body: string, opts: PostOptions): Promise<PostResponse> {
  return new Promise<PostResponse>((resolve, reject) => {
    let settled = false;
    let controller: Dispatcher.DispatchController | undefined;
    let response: { statusCode: number; headers: PostResponse['headers'] } | undefined;
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let size = 0;
    const finish = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err !== undefined || response === undefined) {
        reject(err ?? new Error('the receiver closed the connection without an answer'));
        return;
      }
      const all = kept.length === 1 ? kept[0]! : Buffer.concat(kept);
      resolve({ ...response, body: size === 0 ? undefined : all.subarray(0, opts.keepBytes) });
    };
    const timer = setTimeout(() => {
      const err = new AttemptTimeoutError(`timed out after ${opts.timeoutMs} ms`);
      finish(err);
      controller?.abort(err);
    }, opts.timeoutMs);
    let t: Target;
    try {
      t = opts.target(url);
    } catch (err) {
      finish(err as Error);
      return;
    }
    agent.dispatch(
      { origin: t.origin, path: t.path, method: 'POST', headers, body },
      {
        onRequestStart(c) {
          controller = c;
          if (settled) c.abort(new AttemptTimeoutError(`timed out after ${opts.timeoutMs} ms`));
        },
        onResponseStart(_c, statusCode, responseHeaders) {
          // 1xx answers are informational: the real one follows.
          if (statusCode >= 200) response = { statusCode, headers: responseHeaders as PostResponse['headers'] };
        },
        onResponseData(c, chunk) {
          if (keptBytes < opts.keepBytes) {
            kept.push(chunk);
            keptBytes += chunk.length;
          }
          size += chunk.length;
          if (size >= opts.readLimitBytes) {
            // Enough: what matters (the status) is known, and the rest is not kept.
            finish(undefined);
            c.abort(new Error('response body read limit reached'));
          }
        },
        onResponseEnd() {
          finish(undefined);
        },
        onResponseError(_c, err) {
          finish(err);
        },
      },
    );
  });
}
