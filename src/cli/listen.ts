import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command } from 'commander';
import { Webhook } from 'standardwebhooks';
import { verifySignature } from '../delivery/signing.ts';
import { UsageError } from './errors.ts';

/** Larger bodies are refused with 413 (the server's own publish limit is 16 MiB). */
const BODY_LIMIT = 16 * 1024 * 1024;

interface ListenOptions {
  port: string;
  host: string;
  secret?: string[];
  json?: boolean;
}

interface DeliveryBody {
  content?: unknown;
  eventType?: unknown;
  enqueuedDateTime?: unknown;
  iTwinId?: unknown;
  messageId?: unknown;
  webhookId?: unknown;
}

/** Some secret verifies `Signature: sha256=<hex>`; undefined without secrets. */
function checkSignature(secrets: string[], raw: Buffer, header: string | string[] | undefined): boolean | undefined {
  if (secrets.length === 0) return undefined;
  const value = Array.isArray(header) ? header[0] : header;
  return secrets.some((s) => verifySignature(s, raw, value));
}

/** Some secret verifies the Standard Webhooks headers (with their replay window); undefined without secrets. */
function checkStandard(secrets: string[], raw: Buffer, headers: IncomingMessage['headers']): boolean | undefined {
  if (secrets.length === 0) return undefined;
  const h = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = h('webhook-id');
  const timestamp = h('webhook-timestamp');
  const signature = h('webhook-signature');
  if (id === undefined || timestamp === undefined || signature === undefined) return false;
  const wanted = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
  return secrets.some((s) => {
    try {
      new Webhook(s, { format: 'raw' }).verify(raw, wanted);
      return true;
    } catch {
      return false;
    }
  });
}

const mark = (ok: boolean | undefined) => (ok === undefined ? '?' : ok ? '✔' : '✘');

function readable(receivedAt: string, verified: boolean | undefined, standard: boolean | undefined, body: DeliveryBody): string {
  const status =
    verified === undefined
      ? '? unverified (no --secret)'
      : `${verified ? '✔ verified' : '✘ NOT verified'}  (Signature ${mark(verified)}, webhook-signature ${mark(standard)})`;
  const field = (name: string, value: unknown) => `  ${name.padEnd(10)} ${value === undefined ? '-' : String(value)}`;
  const content = JSON.stringify(body.content ?? null, null, 2)
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return [
    `${receivedAt}  ${status}`,
    field('eventType', body.eventType),
    field('messageId', body.messageId),
    field('webhookId', body.webhookId),
    field('iTwinId', body.iTwinId),
    '  content',
    content,
    '', // a blank line between deliveries
    '',
  ].join('\n');
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function parsePort(raw: string): number {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got "${raw}".`);
  return Number(raw);
}

async function listen(opts: ListenOptions): Promise<void> {
  const port = parsePort(opts.port);
  const envSecret = process.env.ITWIN_WEBHOOKS_SECRET;
  const secrets = [...(opts.secret ?? []), ...(envSecret === undefined || envSecret === '' ? [] : [envSecret])];
  if (secrets.some((s) => s === '')) throw new UsageError('--secret must not be empty.');
  const json = opts.json === true;
  const out = (line: string) => process.stdout.write(line.endsWith('\n') ? line : `${line}\n`);

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST') {
      send(res, 405, { error: 'Only POST is accepted: this is a webhook receiver.' }, { allow: 'POST' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const receivedAt = new Date().toISOString();
      if (tooLarge) {
        out(json ? JSON.stringify({ receivedAt, error: `body over ${BODY_LIMIT} bytes` }) : `${receivedAt}  ✘ body of ${size} bytes refused (over ${BODY_LIMIT})`);
        send(res, 413, { error: 'The body is too large.' });
        return;
      }
      const raw = Buffer.concat(chunks);
      let body: DeliveryBody;
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        body = parsed as DeliveryBody;
      } catch {
        out(json ? JSON.stringify({ receivedAt, error: 'the body is not a JSON object', bytes: raw.length }) : `${receivedAt}  ✘ the body is not a JSON object (${raw.length} bytes): answered 400`);
        send(res, 400, { error: 'The body is not a JSON object.' });
        return;
      }
      const verified = checkSignature(secrets, raw, req.headers.signature);
      const standard = checkStandard(secrets, raw, req.headers);
      if (json) {
        out(
          JSON.stringify({
            verified: verified ?? null,
            standardWebhooksVerified: standard ?? null,
            eventType: body.eventType,
            messageId: body.messageId,
            webhookId: body.webhookId,
            iTwinId: body.iTwinId,
            content: body.content,
            receivedAt,
          }),
        );
      } else {
        out(readable(receivedAt, verified, standard, body));
      }
      if (verified === false) send(res, 401, { received: false, error: 'The Signature header does not match any --secret.' });
      else send(res, 200, { received: true });
    });
  };

  const server = createServer(handle);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new UsageError(`port ${port} on ${opts.host} is in use; pick another with --port (0 picks a free one).`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new UsageError(`cannot listen on --host ${opts.host}: ${err.code}.`));
      else if (err.code === 'EACCES') reject(new UsageError(`no permission to listen on port ${port}; pick another with --port.`));
      else reject(err);
    };
    server.once('error', onError);
    server.listen(port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  process.stderr.write(
    `Listening on http://${host}:${address.port}/ — use this as a webhook callbackUrl (the server needs --allow-insecure-callbacks --allow-private-callbacks for a local receiver)\n`,
  );
  if (secrets.length === 0) process.stderr.write('No --secret given: deliveries are accepted without checking their signature.\n');

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.exitCode = 0;
}

export function listenCommand(): Command {
  return new Command('listen')
    .description('Run a local webhook receiver that prints every delivery and checks its signature (for development).')
    .option('--port <port>', 'TCP port (0 picks a free one)', '4000')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--secret <secret>', 'webhook secret to verify signatures with; repeat for several webhooks [env ITWIN_WEBHOOKS_SECRET]', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--json', 'print one JSON line per delivery')
    .action((opts: ListenOptions) => listen(opts));
}
