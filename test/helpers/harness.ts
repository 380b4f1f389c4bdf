import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { registerClient } from '../../src/auth/clients.ts';
import { SCOPES } from '../../src/auth/scopes.ts';
import { loadConfig, type Config, type Env, type FlagValues } from '../../src/config/load.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startServer, type RunningServer } from '../../src/server.ts';

export function tempDir(prefix = 'itwh-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestClient {
  clientId: string;
  clientSecret: string;
  accountId: string;
  token: string;
  /** Authorization header value. */
  auth: string;
}

export interface Harness {
  server: RunningServer;
  config: Config;
  dataDir: string;
  /** Everything the server logged, one JSON line each. */
  logs: string[];
  inject(opts: InjectOptions): Promise<LightMyRequestResponse>;
  /** Registers an application and gets it a token through /oauth/token. */
  client(opts?: { accountId?: string; scopes?: string[]; name?: string }): Promise<TestClient>;
  /** Adds an iTwin to the directory. */
  itwin(accountId: string): Promise<string>;
  close(): Promise<void>;
}

export async function createHarness(options: { flags?: FlagValues; env?: Env; dataDir?: string; listen?: boolean; now?: () => number } = {}): Promise<Harness> {
  const dataDir = options.dataDir ?? tempDir();
  const config = loadConfig({ port: '0', rateLimitMax: '0', logLevel: 'info', dataDir, ...options.flags }, options.env ?? {});
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const server = await startServer(config, { logger: createLogger(config.logLevel, sink), listen: options.listen ?? false, now: options.now });
  const inject = (opts: InjectOptions) => server.app.inject(opts);
  return {
    server,
    config,
    dataDir,
    logs,
    inject,
    async client(opts = {}) {
      const accountId = opts.accountId ?? randomUUID();
      const created = await registerClient(server.deps.store, {
        name: opts.name ?? 'test-app',
        accountId,
        scopes: opts.scopes ?? [SCOPES.platform, SCOPES.read, SCOPES.modify],
        now: Date.now(),
      });
      const res = await inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: created.clientId, client_secret: created.clientSecret }).toString(),
      });
      if (res.statusCode !== 200) throw new Error(`token request failed: ${res.statusCode} ${res.body}`);
      const token = (res.json() as { access_token: string }).access_token;
      return { ...created, token, auth: `Bearer ${token}` };
    },
    async itwin(accountId) {
      const id = randomUUID();
      await server.deps.store.putItwin(id, accountId, Date.now());
      return id;
    },
    async close() {
      await server.close();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
