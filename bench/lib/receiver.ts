// A loopback webhook receiver for benchmarks, run as its own process (fork) so that it
// never shares a core's event loop with what is being measured. It counts deliveries per
// messageId (for the loss/duplicate audit) and, when content.sentAt is present, records
// publish→receive latency. Controlled over IPC.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

type Mode = 'ok' | 'blackhole';
let mode: Mode = 'ok';
const held = new Set<import('node:http').ServerResponse>();
let counts = new Map<string, number>();
let total = 0;
let duplicates = 0;
let latencies: number[] = [];
let recordLatency = false;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (mode === 'blackhole') {
      // A receiver that is down in the worst way: it takes the connection and never answers.
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    const now = Date.now();
    const body = Buffer.concat(chunks).toString('utf8');
    // A delivery is a (webhook, event) pair: the path names the webhook. Fan-out sends one
    // messageId to many paths; the same pair twice is a duplicate.
    const id = /"messageId":"([^"]+)"/.exec(body)?.[1];
    if (id !== undefined) {
      const key = `${req.url} ${id}`;
      const seen = counts.get(key) ?? 0;
      if (seen > 0) duplicates++;
      counts.set(key, seen + 1);
    }
    total++;
    if (recordLatency) {
      const sentAt = /"sentAt":(\d+)/.exec(body)?.[1];
      if (sentAt !== undefined) latencies.push(now - Number(sentAt));
    }
    res.statusCode = 200;
    res.end('ok');
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  process.send!({ type: 'ready', port: (server.address() as AddressInfo).port });
});

process.on('message', (msg: { cmd: string; id: number; mode?: Mode; ids?: boolean }) => {
  const send = (m: object) => process.send!({ ...m, id: msg.id });
  switch (msg.cmd) {
    case 'stats': {
      send({ type: 'stats', total, unique: counts.size, duplicates, ids: msg.ids === true ? [...new Set([...counts.keys()].map((k) => k.slice(k.indexOf(' ') + 1)))] : undefined });
      break;
    }
    case 'reset':
      counts = new Map();
      total = 0;
      duplicates = 0;
      latencies = [];
      send({ type: 'ok' });
      break;
    case 'latency':
      recordLatency = true;
      latencies = [];
      send({ type: 'ok' });
      break;
    case 'latencies':
      recordLatency = false;
      send({ type: 'latencies', latencies });
      break;
    case 'mode':
      mode = msg.mode!;
      if (mode === 'ok') for (const res of held) res.destroy();
      send({ type: 'ok' });
      break;
  }
});
