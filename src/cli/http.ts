import { UsageError } from './errors.ts';

/** How long the CLI waits for the server's answer to one request. */
const REQUEST_TIMEOUT_MS = 120_000;

/** A server's answer, read whole: the body as text, and as JSON when it is JSON. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** One request; a network failure becomes a one-line UsageError naming the server. */
export async function http(base: string, url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    text = await res.text();
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError') {
      throw new UsageError(`the server at ${base} did not answer ${new URL(url).pathname} within ${REQUEST_TIMEOUT_MS / 1000} s.`);
    }
    const why = e.cause?.code ?? e.cause?.message ?? e.message;
    throw new UsageError(`the server at ${base} is not reachable (${why}); is \`itwin-webhooks serve\` running there? (see --url)`);
  }
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
