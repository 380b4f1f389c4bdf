// The baseline every figure is compared with: a plain undici POST loop with the same
// HMAC signing and body as a real delivery, to the same receiver, and no storage at all.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { deliveryBody, signatureHeaders } from '../../src/delivery/signing.ts';
import { sleep } from './stats.ts';

const SECRET = 'bench-secret-bench-secret-bench-secret-0123';

function signed(webhookId: string) {
  const messageId = randomUUID();
  const body = deliveryBody(
    { messageId, eventType: 'bench.tick.v1', itwinId: undefined, contentJson: `{"sentAt":${Date.now()},"seq":0}`, enqueuedAt: Date.now() },
    webhookId,
  );
  return { messageId, body, headers: { 'content-type': 'application/json', 'user-agent': 'raw-loop', ...signatureHeaders(SECRET, messageId, body, Math.floor(Date.now() / 1000)) } };
}

/**
 * Closed loop: `concurrency` workers POST back to back. Returns deliveries per second in the
 * measured window, and the CPU time this process (the client) spent per 1,000 of them.
 */
export async function rawThroughput(
  urls: string[],
  opts: { concurrency: number; warmupMs: number; durationMs: number },
): Promise<{ perSecond: number; cpuMsPerThousand: number }> {
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  let cpuFrom: NodeJS.CpuUsage | undefined;
  let cpu: NodeJS.CpuUsage | undefined;
  const t1 = setTimeout(() => (cpuFrom = process.cpuUsage()), opts.warmupMs);
  const t2 = setTimeout(() => (cpu = process.cpuUsage(cpuFrom)), opts.warmupMs + opts.durationMs);
  const start = Date.now();
  const measureFrom = start + opts.warmupMs;
  const end = measureFrom + opts.durationMs;
  let counted = 0;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async (_, w) => {
      const url = urls[w % urls.length]!;
      while (Date.now() < end) {
        const s = signed(`w${w}`);
        const res = await request(url, { method: 'POST', headers: s.headers, body: s.body, dispatcher: agent });
        await res.body.dump();
        if (Date.now() >= measureFrom && Date.now() < end) counted++;
      }
    }),
  );
  // The workers stop by the clock, which can run out before the timer's turn comes: then
  // the window closes here, a few milliseconds late (it was left unmeasured).
  cpu ??= cpuFrom === undefined ? undefined : process.cpuUsage(cpuFrom);
  await agent.close();
  clearTimeout(t1);
  clearTimeout(t2);
  const cpuMs = cpu === undefined ? Number.NaN : (cpu.user + cpu.system) / 1000;
  return { perSecond: counted / (opts.durationMs / 1000), cpuMsPerThousand: (1000 * cpuMs) / counted };
}

/** Open loop at a fixed rate: every 10 ms, rate/100 POSTs are started without waiting. */
export async function rawAtRate(urls: string[], opts: { perSecond: number; durationMs: number }): Promise<void> {
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  const perTick = opts.perSecond / 100;
  const start = Date.now();
  const inflight = new Set<Promise<void>>();
  let n = 0;
  for (let tick = 0; Date.now() - start < opts.durationMs; tick++) {
    for (let i = 0; i < perTick; i++) {
      const s = signed('rate');
      const p = request(urls[n++ % urls.length]!, { method: 'POST', headers: s.headers, body: s.body, dispatcher: agent }).then((r) => r.body.dump());
      const tracked: Promise<void> = p.then(() => {
        inflight.delete(tracked);
      });
      inflight.add(tracked);
    }
    await sleep(Math.max(0, start + (tick + 1) * 10 - Date.now()));
  }
  await Promise.all(inflight);
  await agent.close();
}
