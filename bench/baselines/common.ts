// What the two baseline servers (bullmq/server.ts, pgboss/server.ts) share: the HTTP API the
// benchmark drives, the in-memory subscription table, and the delivery itself (the same body,
// HMAC signature headers, undici agent and 5 s timeout as itwin-webhooks' sender). Only the
// queue in between differs. Not part of the product.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { deliveryBody, signatureHeaders } from '../../src/delivery/signing.ts';

export const EVENT_TYPE = 'bench.tick.v1';
/** Per attempt, like the product's default delivery timeout. */
export const TIMEOUT_MS = 5000;

export interface Subscription {
  id: string;
  route: string;
  url: string;
  secret: string;
}

export interface PublishedEvent {
  messageId: string;
  route: string;
  content: unknown;
}

/** What a queued job carries: everything the worker needs to sign and POST one delivery. */
export interface DeliveryJob {
  subscriptionId: string;
  url: string;
  secret: string;
  messageId: string;
  eventType: string;
  contentJson: string;
  enqueuedAt: number;
}

export function concurrencyFromEnv(): number {
  const n = Number(process.env.CONCURRENCY ?? '128');
  if (!Number.isInteger(n) || n < 1) throw new Error(`CONCURRENCY must be a positive integer, got ${process.env.CONCURRENCY}`);
  return n;
}

export const log = (name: string, msg: string) => process.stderr.write(`[${name}] ${msg}\n`);

/**
 * One undici agent for every delivery, configured like the product's sender: keep-alive
 * pools per origin, headers and body timeouts of 5 s, plus an AbortSignal bounding the whole
 * attempt. Throws on anything but 2xx so that the queue's own retry/backoff takes over.
 */
export function createDeliverer(userAgent: string) {
  const agent = new Agent({ headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS, keepAliveTimeout: 10_000 });
  return {
    async deliver(job: DeliveryJob, signal?: AbortSignal): Promise<void> {
      const body = deliveryBody(
        { messageId: job.messageId, eventType: job.eventType, itwinId: undefined, contentJson: job.contentJson, enqueuedAt: job.enqueuedAt },
        job.subscriptionId,
      );
      const headers = {
        'content-type': 'application/json',
        'user-agent': userAgent,
        ...signatureHeaders(job.secret, job.messageId, body, Math.floor(Date.now() / 1000)),
      };
      const timeout = AbortSignal.timeout(TIMEOUT_MS);
      const res = await request(job.url, {
        method: 'POST',
        headers,
        body,
        dispatcher: agent,
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
      await res.body.text();
      if (res.statusCode < 200 || res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`);
    },
    close: () => agent.close(),
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function send(res: ServerResponse, status: number, text?: string) {
  res.statusCode = status;
  if (text !== undefined) res.setHeader('content-type', 'text/plain');
  res.end(text);
}

/**
 * The baseline's publish endpoint and subscription API. `enqueue` receives one job per
 * (event, matching subscription) for a whole request and must resolve only once its queue
 * has accepted them: the 202 is the baseline's "accepted".
 *
 *   POST   /subscriptions {"subscriptions":[{id,route,url,secret}]}  → 204
 *   DELETE /subscriptions                                           → 204
 *   POST   /events        {"events":[{messageId,route,content}]}    → 202
 */
export function startApi(name: string, enqueue: (jobs: DeliveryJob[]) => Promise<void>): Promise<{ close(): Promise<void> }> {
  const byRoute = new Map<string, Subscription[]>();

  const server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.url === '/subscriptions' && req.method === 'POST') {
          const { subscriptions } = (await readJson(req)) as { subscriptions: Subscription[] };
          for (const s of subscriptions) {
            const list = byRoute.get(s.route);
            if (list === undefined) byRoute.set(s.route, [{ ...s }]);
            else list.push({ ...s });
          }
          return send(res, 204);
        }
        if (req.url === '/subscriptions' && req.method === 'DELETE') {
          req.resume();
          byRoute.clear();
          return send(res, 204);
        }
        if (req.url === '/events' && req.method === 'POST') {
          const { events } = (await readJson(req)) as { events: PublishedEvent[] };
          const enqueuedAt = Date.now();
          const jobs: DeliveryJob[] = [];
          for (const e of events) {
            const subs = byRoute.get(e.route);
            if (subs === undefined) continue;
            const contentJson = JSON.stringify(e.content);
            for (const s of subs) {
              jobs.push({ subscriptionId: s.id, url: s.url, secret: s.secret, messageId: e.messageId, eventType: EVENT_TYPE, contentJson, enqueuedAt });
            }
          }
          if (jobs.length > 0) await enqueue(jobs);
          return send(res, 202);
        }
        req.resume();
        send(res, 404, 'not found');
      } catch (err) {
        log(name, `${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
        if (!res.headersSent) send(res, err instanceof SyntaxError ? 400 : 503, (err as Error).message);
        else res.destroy();
      }
    })();
  });
  server.keepAliveTimeout = 65_000;

  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
      resolve({
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Runs `shutdown` once on SIGTERM or SIGINT, then exits 0 (1 if it threw). */
export function onSignals(name: string, shutdown: () => Promise<void>) {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(name, `${signal}: shutting down`);
    shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        log(name, `shutdown failed: ${(err as Error).stack ?? String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
  // Both libraries' production guides: never let a stray rejection take the process down silently.
  process.on('unhandledRejection', (reason) => log(name, `unhandled rejection: ${String((reason as Error)?.stack ?? reason)}`));
  process.on('uncaughtException', (err) => log(name, `uncaught exception: ${err.stack ?? String(err)}`));
}
