import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createApp } from './api/app.ts';
import type { AppDeps } from './api/deps.ts';
import { createClientLiveness } from './auth/clientLiveness.ts';
import { createBuiltinIssuer } from './auth/issuer.ts';
import { createTokenVerifier } from './auth/verifier.ts';
import { bootstrapStore } from './bootstrap.ts';
import { createContentValidator } from './catalog/contentValidator.ts';
import { ConfigError, type Config } from './config/load.ts';
import type { LookupFn } from './delivery/connector.ts';
import type { DeliveryDispatcher } from './delivery/dispatcher.ts';
import { createDeliveryWorker, type DeliveryWorker } from './deliveryWorker.ts';
import { createRetention, type RetentionLoop } from './delivery/retention.ts';
import { createPublisher, IDEMPOTENCY_WINDOW_MS } from './ingest/publisher.ts';
import { createMetrics } from './observability/metrics.ts';
import { registerRetentionMetrics } from './observability/retentionMetrics.ts';
import { openStore } from './store/open.ts';
import type { StoreThreadFaults } from './store/sqlite/threadProtocol.ts';
import { VERSION } from './version.ts';

export interface RunningServer {
  app: FastifyInstance;
  deps: AppDeps;
  /** The delivery worker's dispatcher; absent in a process with role api. */
  dispatcher: DeliveryDispatcher | undefined;
  /** The address actually bound, e.g. http://127.0.0.1:3000. */
  url: string;
  /**
   * Settles when the server can no longer work: its store was lost for good (the embedded
   * store's thread stopped). Requests are answered 503 and /readyz says not ready from then
   * on; the process should close the server and exit non-zero, for its supervisor to
   * restart it (cli/serve.ts does).
   */
  lost: Promise<Error>;
  /** Stops taking requests, lets deliveries in flight finish (SHUTDOWN_GRACE), releases leases, closes the store. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  now?: () => number;
  /** Build everything but do not bind a socket (tests use inject()). */
  listen?: boolean;
  /** Replaces DNS for callbacks (tests). */
  lookup?: LookupFn;
  /** Randomness of the retry jitter (tests). */
  random?: () => number;
  /** Failures injected into the embedded store's thread (tests). */
  storeFaults?: StoreThreadFaults;
}

/** Wires the store, identity, API and delivery engine together and starts them. */
export async function startServer(config: Config, options: StartOptions): Promise<RunningServer> {
  const now = options.now ?? Date.now;
  const { logger } = options;
  const opened = await openStore(config, {
    threaded: true,
    faults: options.storeFaults,
    onMigrated: (versions) => {
      if (versions.length > 0) logger.info({ versions }, 'database migrations applied');
    },
  });
  const { store, box, capabilities } = opened;
  if (opened.keyCreated) logger.info({ dataDir: config.dataDir }, 'generated a new encryption key in the data directory');
  if (opened.keyFileLoose) logger.warn({ dataDir: config.dataDir }, 'encryption.key is readable by other users; run chmod 600 on it');
  if (opened.dataDirLoose) logger.warn({ dataDir: config.dataDir }, 'the data directory is readable by other users and holds files of others; run chmod 700 on it');

  let worker: DeliveryWorker | undefined;
  let retention: RetentionLoop | undefined;
  try {
    await bootstrapStore({ store, box, config, now });
    const issuer = config.auth.builtinIssuer ? await createBuiltinIssuer({ store, box, auth: config.auth, now }) : undefined;
    // The built-in issuer's tokens end with their client (deleted, or its tokens revoked).
    const liveness = issuer !== undefined ? createClientLiveness({ getClient: (id) => store.getClient(id), now }) : undefined;
    const verifier = createTokenVerifier(
      config.auth,
      issuer !== undefined ? { local: issuer.jwks() } : { remoteUrl: config.auth.jwksUrl! },
      now,
      liveness,
    );
    // Other processes' client changes reach this one through the store (PostgreSQL NOTIFY).
    const unsubscribeClients = liveness !== undefined ? capabilities.clientChanges?.subscribeClientChanges((id) => liveness.forget(id)) : undefined;
    const userAgent = `itwin-webhooks/${VERSION}`;
    if (config.role !== 'api') {
      worker = createDeliveryWorker(config, { store, capabilities, box, userAgent, logger, now, lookup: options.lookup, random: options.random });
    }
    const dispatcher = worker?.dispatcher;
    const metrics = createMetrics(store, now, () => worker?.counts());
    // Retention runs where deliveries are made (on PostgreSQL, one process prunes at a time).
    retention =
      config.role !== 'api' ? createRetention({ store, retentionMs: config.delivery.retentionMs, idempotencyWindowMs: IDEMPOTENCY_WINDOW_MS, now, logger }) : undefined;
    const pruning = retention;
    registerRetentionMetrics(metrics.registry, () => pruning?.counts());
    const wake = () => dispatcher?.wake();
    const publisher = createPublisher({ store, now, metrics, wake, publishAlong: worker?.publishAlong });
    const webhookState = (id: string, active: boolean) => dispatcher?.webhookState(id, active);
    const deps: AppDeps = { config, store, box, verifier, issuer, contentValidator: createContentValidator(), publisher, metrics, wake, webhookState, logger, now };
    const app = await createApp(deps, { api: config.role !== 'worker' });
    await worker?.start();
    retention?.start();
    let url = '';
    if (options.listen !== false) {
      try {
        await app.listen({ host: config.host, port: config.port });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new ConfigError(`Invalid PORT (--port): port ${config.port} on ${config.host} is in use; pick another with --port or PORT (0 picks a free one).`);
        if (code === 'EACCES') throw new ConfigError(`Invalid PORT (--port): this user may not listen on ${config.host}:${config.port}.`);
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ConfigError(`Invalid HOST (--host): ${config.host} is not an address of this machine.`);
        throw err;
      }
      const address = app.server.address();
      if (address !== null && typeof address === 'object') {
        const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        url = `http://${host}:${address.port}`;
      }
    }
    const lost = capabilities.lost ?? new Promise<Error>(() => {});
    void lost.then((err) => logger.fatal({ err: err.message }, 'the data store is lost: answering 503 until this process is restarted'));
    let closing: Promise<void> | undefined;
    const running = worker;
    return {
      app,
      deps,
      dispatcher,
      url,
      lost,
      close() {
        closing ??= (async () => {
          await app.close();
          await running?.stop(config.delivery.shutdownGraceMs);
          await pruning?.stop();
          unsubscribeClients?.();
          await store.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await retention?.stop();
    await worker?.stop(0).catch(() => {});
    await store.close();
    throw err;
  }
}
