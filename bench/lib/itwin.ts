// Drives a running itwin-webhooks server for the benchmarks: provisioning through the
// CLI and the public API (as a user would), and publishers.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import type { ReceiverProc } from './procs.ts';
import { cli } from './procs.ts';
import { sleep } from './stats.ts';

export const BENCH_TYPE = 'bench.tick.v1';

export interface Provisioned {
  publishToken: string;
  itwins: string[];
  accountId: string;
}

async function token(url: string, creds: { clientId: string; clientSecret: string }): Promise<string> {
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

async function api(url: string, tok: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/**
 * One iTwin per webhook, each webhook on its own receiver path, so that an event is
 * delivered exactly once (deliveries = events) and every webhook has its own lane.
 */
export async function provision(url: string, storeArgs: string[], receiver: ReceiverProc, webhooks: number): Promise<Provisioned> {
  const accountId = randomUUID();
  const create = async (name: string, scopes: string) =>
    JSON.parse(await cli(['clients', 'create', '--name', name, '--account', accountId, '--scopes', scopes, '--json', ...storeArgs])) as {
      clientId: string;
      clientSecret: string;
    };
  const admin = await create('bench-admin', 'webhooks:admin');
  const sub = await create('bench-subscriber', 'webhooks:modify');
  const pub = await create('bench-producer', 'webhooks:publish');
  await cli(['directory', 'org-admin', sub.clientId, '--account', accountId, ...storeArgs]);
  const adminToken = await token(url, admin);
  await api(url, adminToken, 'POST', '/webhooks/event-types', {
    type: BENCH_TYPE,
    description: 'Benchmark tick: when it was published and its sequence number.',
    contentSchema: { type: 'object', required: ['sentAt', 'seq'], properties: { sentAt: { type: 'integer' }, seq: { type: 'integer' } } },
    example: { sentAt: 0, seq: 0 },
  }).catch((err: Error) => {
    if (!err.message.includes('409')) throw err;
  });
  const subToken = await token(url, sub);
  const itwins: string[] = [];
  for (let i = 0; i < webhooks; i++) {
    const itwin = randomUUID();
    await cli(['directory', 'itwin', 'add', itwin, '--account', accountId, ...storeArgs]);
    const hook = (await api(url, subToken, 'POST', '/webhooks', {
      callbackUrl: receiver.url(`/w/${i}`),
      scope: 'iTwin',
      scopeId: itwin,
      eventTypes: [BENCH_TYPE],
      secret: 'bench-secret-bench-secret-bench-secret-0123',
    })) as { id: string };
    await api(url, subToken, 'PATCH', `/webhooks/${hook.id}`, { active: true });
    itwins.push(itwin);
  }
  return { publishToken: await token(url, pub), itwins, accountId };
}

export class Producer {
  readonly published: string[] = [];
  private readonly agent = new Agent({ keepAliveTimeout: 30_000 });
  private seq = 0;
  private readonly url: string;
  private readonly p: Provisioned;

  constructor(url: string, provisioned: Provisioned) {
    this.url = url;
    this.p = provisioned;
  }

  private event() {
    const messageId = randomUUID();
    this.published.push(messageId);
    const seq = this.seq++;
    return { eventType: BENCH_TYPE, iTwinId: this.p.itwins[seq % this.p.itwins.length], messageId, content: { sentAt: Date.now(), seq } };
  }

  async publish(body: object): Promise<void> {
    const res = await request(`${this.url}/webhooks/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.p.publishToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      dispatcher: this.agent,
    });
    const text = await res.body.text();
    if (res.statusCode !== 202) throw new Error(`publish: ${res.statusCode} ${text.slice(0, 300)}`);
  }

  batch(n: number): Promise<void> {
    return this.publish({ events: Array.from({ length: n }, () => this.event()) });
  }

  single(): Promise<void> {
    return this.publish(this.event());
  }

  /** Open loop: rate/100 single-event publishes every 10 ms, not waiting for answers. */
  async atRate(perSecond: number, durationMs: number): Promise<void> {
    const perTick = perSecond / 100;
    const start = Date.now();
    const pending: Array<Promise<void>> = [];
    for (let tick = 0; Date.now() - start < durationMs; tick++) {
      for (let i = 0; i < perTick; i++) pending.push(this.single());
      await sleep(Math.max(0, start + (tick + 1) * 10 - Date.now()));
    }
    await Promise.all(pending);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
