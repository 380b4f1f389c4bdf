import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createApp } from './api/app.ts';
import type { AppDeps } from './api/deps.ts';
import { createBuiltinIssuer } from './auth/issuer.ts';
import { createTokenVerifier } from './auth/verifier.ts';
import { createContentValidator } from './catalog/contentValidator.ts';
import type { Config } from './config/load.ts';
import { openStore } from './store/open.ts';

export interface RunningServer {
  app: FastifyInstance;
  deps: AppDeps;
  /** The address actually bound, e.g. http://127.0.0.1:3000. */
  url: string;
  close(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  now?: () => number;
  /** Build everything but do not bind a socket (tests use inject()). */
  listen?: boolean;
}

/** Wires the store, identity and API together and starts listening. */
export async function startServer(config: Config, options: StartOptions): Promise<RunningServer> {
  const now = options.now ?? Date.now;
  const { logger } = options;
  const opened = await openStore(config, now);
  const { store, box } = opened;
  if (opened.keyCreated) logger.info({ dataDir: config.dataDir }, 'generated a new encryption key in the data directory');
  if (opened.keyFileLoose) logger.warn({ dataDir: config.dataDir }, 'encryption.key is readable by other users; run chmod 600 on it');

  try {
    const issuer = config.auth.builtinIssuer ? await createBuiltinIssuer({ store, box, auth: config.auth, now }) : undefined;
    const verifier = createTokenVerifier(
      config.auth,
      issuer !== undefined ? { local: issuer.jwks() } : { remoteUrl: config.auth.jwksUrl! },
      now,
    );
    const deps: AppDeps = { config, store, box, verifier, issuer, contentValidator: createContentValidator(), logger, now };
    const app = await createApp(deps);
    let url = '';
    if (options.listen !== false) {
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address();
      if (address !== null && typeof address === 'object') {
        const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        url = `http://${host}:${address.port}`;
      }
    }
    let closed = false;
    return {
      app,
      deps,
      url,
      async close() {
        if (closed) return;
        closed = true;
        await app.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
