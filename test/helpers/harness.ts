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
import type { LookupFn } from '../../src/delivery/connector.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import type { StoreThreadFaults } from '../../src/store/sqlite/threadProtocol.ts';

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
  /** Creates (and by default activates) a webhook through the API. */
  webhook(owner: TestClient, body: { callbackUrl: string; scope?: 'Account' | 'iTwin'; scopeId?: string; eventTypes?: string[]; secret?: string }, active?: boolean): Promise<{ id: string; secret: string }>;
  /** POST /webhooks/events; returns the answer. */
  publish(publisher: TestClient, body: object): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** Flags that let deliveries reach a loopback test receiver over http. */
export const LOOPBACK_CALLBACKS: FlagValues = { allowInsecureCallbacks: true, callbackAllowCidrs: '127.0.0.0/8' };

export async function createHarness(
  options: { flags?: FlagValues; env?: Env; dataDir?: string; listen?: boolean; now?: () => number; random?: () => number; lookup?: LookupFn; storeFaults?: StoreThreadFaults } = {},
): Promise<Harness> {
  const dataDir = options.dataDir ?? tempDir();
  const config = loadConfig({ port: '0', rateLimitMax: '0', logLevel: 'info', dataDir, ...options.flags }, options.env ?? {});
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const server = await startServer(config, { logger: createLogger(config.logLevel, sink), listen: options.listen ?? false, now: options.now, random: options.random, lookup: options.lookup, storeFaults: options.storeFaults });
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
    async webhook(owner, body, active = true) {
      const res = await inject({
        method: 'POST',
        url: '/webhooks',
        headers: { authorization: owner.auth },
        payload: { scope: 'Account', eventTypes: ['iModels.iModelCreated.v1'], ...body },
      });
      if (res.statusCode !== 201) throw new Error(`create webhook: ${res.statusCode} ${res.body}`);
      const { id, secret } = res.json() as { id: string; secret: string };
      if (active) {
        const patched = await inject({ method: 'PATCH', url: `/webhooks/${id}`, headers: { authorization: owner.auth }, payload: { active: true } });
        if (patched.statusCode !== 200) throw new Error(`activate webhook: ${patched.statusCode} ${patched.body}`);
      }
      return { id, secret };
    },
    publish(publisher, body) {
      return inject({ method: 'POST', url: '/webhooks/events', headers: { authorization: publisher.auth }, payload: body });
    },
    async close() {
      await server.close();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
