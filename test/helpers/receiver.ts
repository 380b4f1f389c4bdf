import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  rawBody: string;
  body: { content: Record<string, unknown>; eventType: string; enqueuedDateTime: string; iTwinId?: string; messageId: string; webhookId: string };
  /** Checked with this file's own HMAC code. */
  signatureValid: boolean | undefined;
  /** Checked with the standardwebhooks package. */
  standardValid: boolean | undefined;
  at: number;
}

/** How the receiver answers a request; return undefined for 200 "ok". */
export type Behaviour = (req: IncomingMessage, res: ServerResponse, attempt: number) => 'handled' | number | undefined | Promise<'handled' | number | undefined>;

/**
 * A real loopback HTTP receiver for delivery tests. It records every request, verifies
 * each signature independently of the product code, and answers as told per path.
 */
export class Receiver {
  readonly received: Received[] = [];
  readonly secrets = new Map<string, string>();
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly attempts = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  private waiters: Array<() => void> = [];
  port = 0;
  /** The loopback address it listens on (another than 127.0.0.1 to test the SSRF allow-list). */
  host = '127.0.0.1';

  get origin(): string {
    return `http://${this.host}:${this.port}`;
  }

  url(path: string): string {
    return `${this.origin}${path}`;
  }

  /** The secret of the webhook that targets `path`, for signature checks. */
  setSecret(path: string, secret: string): void {
    this.secrets.set(path, secret);
  }

  on(path: string, behaviour: Behaviour): void {
    this.behaviours.set(path, behaviour);
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async start(host = '127.0.0.1'): Promise<this> {
    this.host = host;
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, host, r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const path = req.url ?? '/';
    const secret = this.secrets.get(path);
    let signatureValid: boolean | undefined;
    let standardValid: boolean | undefined;
    if (secret !== undefined) {
      const expected = createHmac('sha256', secret).update(rawBody).digest('hex');
      const header = String(req.headers.signature ?? '');
      const [scheme, hex] = header.split('=');
      signatureValid = scheme === 'sha256' && hex !== undefined && hex.length === 64 && timingSafeEqual(Buffer.from(expected), Buffer.from(hex));
      try {
        new Webhook(secret, { format: 'raw' }).verify(rawBody, {
          'webhook-id': String(req.headers['webhook-id']),
          'webhook-timestamp': String(req.headers['webhook-timestamp']),
          'webhook-signature': String(req.headers['webhook-signature']),
        });
        standardValid = true;
      } catch {
        standardValid = false;
      }
    }
    let body: Received['body'];
    try {
      body = JSON.parse(rawBody) as Received['body'];
    } catch {
      body = { content: {}, eventType: '', enqueuedDateTime: '', messageId: '', webhookId: '' };
    }
    const attempt = (this.attempts.get(path) ?? 0) + 1;
    this.attempts.set(path, attempt);
    this.received.push({ path, headers: req.headers, rawBody, body, signatureValid, standardValid, at: Date.now() });
    for (const w of this.waiters.splice(0)) w();
    const behaviour = this.behaviours.get(path);
    const outcome = behaviour === undefined ? undefined : await behaviour(req, res, attempt);
    if (outcome === 'handled') return;
    res.statusCode = outcome ?? 200;
    res.end('ok');
  }

  /** Resolves when `predicate` holds, checking after every request; rejects after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} (received ${this.received.length})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Polls an async condition (e.g. a store query) until it holds. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
