import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createApp } from './api/app.ts';
import type { AppDeps } from './api/deps.ts';
import { createClientLiveness } from './auth/clientLiveness.ts';
import { createBuiltinIssuer } from './auth/issuer.ts';
import { createTokenVerifier } from './auth/verifier.ts';
import { createContentValidator } from './catalog/contentValidator.ts';
import { ConfigError, type Config } from './config/load.ts';
import type { SecretBox } from './crypto/secretBox.ts';
import type { LookupFn } from './delivery/connector.ts';
import { createDispatcher, type DeliveryControl, type DeliveryDispatcher } from './delivery/dispatcher.ts';
import { createSender, type Sender } from './delivery/sender.ts';
import { createPublisher, type ClaimAlong } from './ingest/publisher.ts';
import { createDeliveryCounts } from './observability/deliveryCounts.ts';
import { writeLogLine } from './observability/logger.ts';
import { createMetrics } from './observability/metrics.ts';
import { openStore } from './store/open.ts';
import type { PostgresStore } from './store/postgres/store.ts';
import type { Store } from './store/types.ts';
import { VERSION } from './version.ts';

export interface RunningServer {
  app: FastifyInstance;
  deps: AppDeps;
  /** The delivery worker (on this thread or the embedded store's); absent in a process with role api. */
  dispatcher: DeliveryControl | undefined;
  /** The address actually bound, e.g. http://127.0.0.1:3000. */
  url: string;
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
}

/** Wires the store, identity, API and delivery engine together and starts them. */
export async function startServer(config: Config, options: StartOptions): Promise<RunningServer> {
  const now = options.now ?? Date.now;
  const { logger } = options;
  const delivers = config.role !== 'api';
  const userAgent = `itwin-webhooks/${VERSION}`;
  // On the embedded store the delivery worker runs on the store's thread (deliveryHost.ts),
  // unless a test replaces the clock, the randomness or DNS: functions cannot cross threads.
  const onStoreThread = delivers && config.databaseUrl === undefined && options.now === undefined && options.random === undefined && options.lookup === undefined;
  let overflowSender: Sender | undefined;
  const opened = await openStore(config, {
    now,
    threaded: true,
    onMigrated: (versions) => {
      if (versions.length > 0) logger.info({ versions }, 'database migrations applied');
    },
    delivery: onStoreThread
      ? (key, box) => {
          overflowSender = createSender({ delivery: config.delivery, callbacks: config.callbacks, box, userAgent, now, logger });
          return {
            settings: { delivery: config.delivery, callbacks: config.callbacks, key, userAgent, logLevel: config.logLevel },
            sender: overflowSender,
            log: (line) => writeLogLine(logger, line),
          };
        }
      : undefined,
  });
  const { store, box, hostedDelivery } = opened;
  if (opened.keyCreated) logger.info({ dataDir: config.dataDir }, 'generated a new encryption key in the data directory');
  if (opened.keyFileLoose) logger.warn({ dataDir: config.dataDir }, 'encryption.key is readable by other users; run chmod 600 on it');
  if (opened.dataDirLoose) logger.warn({ dataDir: config.dataDir }, 'the data directory is readable by other users and holds files of others; run chmod 700 on it');

  let worker: DeliveryControl | undefined = hostedDelivery;
  try {
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
    const unsubscribeClients = liveness !== undefined && 'subscribeClientChanges' in store ? (store as PostgresStore).subscribeClientChanges((id) => liveness.forget(id)) : undefined;
    // The worker on this thread: on PostgreSQL, or under a test's clock.
    const inProcess =
      delivers && hostedDelivery === undefined
        ? inProcessWorker(config, { store, box, userAgent, logger, now, lookup: options.lookup, random: options.random })
        : undefined;
    worker ??= inProcess?.dispatcher;
    const metrics = createMetrics(store, now, hostedDelivery !== undefined ? () => hostedDelivery.counts().catch(() => undefined) : () => inProcess?.counts.snapshot());
    const wake = () => worker?.wake();
    // The embedded store leases a publish's deliveries in the publish itself when this thread delivers.
    const claimAlong: ClaimAlong | undefined =
      inProcess !== undefined && 'publishAndClaim' in store ? (call) => inProcess.dispatcher.claimAlong(call) : undefined;
    const publisher = createPublisher({ store, now, metrics, wake, claimAlong, storeHandsOver: hostedDelivery !== undefined });
    const webhookState = (id: string, active: boolean) => worker?.webhookState(id, active);
    const deps: AppDeps = { config, store, box, verifier, issuer, contentValidator: createContentValidator(), publisher, metrics, wake, webhookState, logger, now };
    const app = await createApp(deps, { api: config.role !== 'worker' });
    await worker?.start();
    // Other processes' publishes reach this worker through the store (PostgreSQL NOTIFY).
    const unsubscribe = inProcess !== undefined && 'subscribeDue' in store ? (store as PostgresStore).subscribeDue(() => inProcess.dispatcher.wake()) : undefined;
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
    let closing: Promise<void> | undefined;
    const running = worker;
    return {
      app,
      deps,
      dispatcher: running,
      url,
      close() {
        closing ??= (async () => {
          await app.close();
          await running?.stop(config.delivery.shutdownGraceMs);
          unsubscribe?.();
          unsubscribeClients?.();
          await store.close();
          await overflowSender?.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await worker?.stop(0).catch(() => {});
    await store.close();
    await overflowSender?.close();
    throw err;
  }
}

/** The delivery worker on the calling thread, counting what it does for the metrics. */
function inProcessWorker(
  config: Config,
  deps: { store: Store; box: SecretBox; userAgent: string; logger: Logger; now: () => number; lookup?: LookupFn; random?: () => number },
): { dispatcher: DeliveryDispatcher; counts: ReturnType<typeof createDeliveryCounts> } {
  const { store, box, userAgent, logger, now } = deps;
  const counts = createDeliveryCounts();
  const sender = createSender({ delivery: config.delivery, callbacks: config.callbacks, box, userAgent, now, lookup: deps.lookup, random: deps.random, logger });
  // One process delivers from the embedded store, so it may lease ahead (see the dispatcher);
  // on PostgreSQL several workers share each webhook's cap and lease only what they send.
  const leaseAhead = config.databaseUrl === undefined ? config.delivery.maxInFlightPerWebhook : 0;
  return { dispatcher: createDispatcher({ store, sender, config: config.delivery, counts, logger, now, leaseAhead }), counts };
}
