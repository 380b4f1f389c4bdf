import type { Logger } from 'pino';
import { Command } from 'commander';
import type { Config } from '../config/load.ts';
import { loadConfig, redactUrl } from '../config/load.ts';
import { SETTINGS } from '../config/settings.ts';
import { createLogger } from '../observability/logger.ts';
import { startServer, type RunningServer } from '../server.ts';
import { VERSION } from '../version.ts';
import { addSettingOptions, flagValues } from './options.ts';

/** Beyond the delivery grace period, the time the rest of the shutdown may take before the process exits anyway. */
const SHUTDOWN_MARGIN_MS = 20_000;

const ROLE_TEXT = {
  all: 'all (API and delivery worker)',
  api: 'api (HTTP API only; workers deliver)',
  worker: 'worker (delivery only; serves /healthz, /readyz and /metrics)',
} as const;

/** Bound to every interface (0.0.0.0, ::): an address no client can use. */
const WILDCARD = /^http:\/\/(0\.0\.0\.0|\[::\])(?=:\d+$)/;

export function banner(config: Config, url: string): string {
  const wildcard = WILDCARD.test(url);
  const base = config.publicUrl ?? url.replace(WILDCARD, 'http://127.0.0.1');
  const dataDirFlag = config.dataDir === SETTINGS.dataDir.default ? '' : ` --data-dir ${config.dataDir}`;
  const lines = [
    `itwin-webhooks ${VERSION} is listening on ${url}`,
    ...(config.role === 'worker'
      ? [`  Health        ${base}/healthz, ${base}/readyz, ${base}/metrics`]
      : [
          `  API base URL  ${base}/webhooks`,
          `  API docs      ${base}/docs  (OpenAPI: ${base}/openapi.json)`,
          ...(config.dashboard ? [`  Dashboard     ${base}/ui/`] : []),
        ]),
    `  Store         ${config.databaseUrl !== undefined ? `PostgreSQL ${redactUrl(config.databaseUrl)} (schema ${config.databaseSchema})` : `SQLite in ${config.dataDir}`}`,
    `  Role          ${ROLE_TEXT[config.role]}`,
    `  Issuer        ${
      !config.auth.builtinIssuer
        ? `external, JWKS ${config.auth.jwksUrl}`
        : config.role === 'worker'
          ? 'built-in (its token endpoint is served by the API processes, not this one)'
          : `built-in, token URL ${base}/oauth/token (also ${base}/connect/token)`
    }`,
  ];
  if (wildcard && config.publicUrl === undefined) {
    lines.push('  NOTE          listening on every interface: set PUBLIC_URL (--public-url) to the address clients use; links and the token issuer say 127.0.0.1 until then.');
  }
  if (config.callbacks.allowInsecure) lines.push('  WARNING       http:// callback URLs are accepted (--allow-insecure-callbacks); do not use in production.');
  if (config.callbacks.allowPrivate) {
    lines.push('  WARNING       the SSRF guard is off: callbacks may reach loopback and private addresses (--allow-private-callbacks); do not use in production.');
  }
  if (config.callbacks.allowCidrs.length > 0) lines.push(`  Callbacks     also allowed to reach ${config.callbacks.allowCidrs.join(', ')}`);
  if (config.auth.builtinIssuer && config.role !== 'worker') {
    lines.push(
      'Get a token:',
      `  npx itwin-webhooks clients create --name my-app --account <ACCOUNT_UUID>${dataDirFlag}`,
      `  curl -s -u <CLIENT_ID>:<CLIENT_SECRET> -d grant_type=client_credentials ${base}/oauth/token`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Stops the server on SIGTERM or SIGINT (exit 0 once it has stopped), and when its store is
 * lost for good (exit 1, so that a supervisor restarts the process): in either case it stops
 * taking requests and lets the deliveries in flight settle first, within the shutdown grace.
 * A second signal, or a stop that outlives the grace, exits at once with 1.
 */
export function superviseServer(
  server: Pick<RunningServer, 'close' | 'lost'>,
  deps: {
    logger: Logger;
    graceMs: number;
    /** Ends the process with `code`: at once, or (`immediately` false) once what is left of it has drained. */
    exit: (code: number, immediately: boolean) => void;
    signals?: NodeJS.EventEmitter;
  },
): void {
  const { logger, exit } = deps;
  const signals = deps.signals ?? process;
  let stopping = false;
  const stop = (reason: string, code: number) => {
    if (stopping) {
      logger.warn({ reason }, 'second signal: exiting now');
      exit(1, true);
      return;
    }
    stopping = true;
    logger.info({ reason }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error('shutdown deadline passed: exiting');
      exit(1, true);
    }, deps.graceMs + SHUTDOWN_MARGIN_MS);
    deadline.unref();
    server.close().then(
      () => {
        logger.info('stopped');
        clearTimeout(deadline);
        exit(code, false);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while shutting down');
        clearTimeout(deadline);
        exit(1, false);
      },
    );
  };
  signals.on('SIGTERM', () => stop('SIGTERM', 0));
  signals.on('SIGINT', () => stop('SIGINT', 0));
  void server.lost.then(() => stop('the data store is lost', 1));
}

export function serveCommand(): Command {
  const cmd = new Command('serve').description('Run the Webhooks API and the delivery worker.');
  addSettingOptions(cmd, ['store', 'server', 'auth', 'delivery']);
  cmd.action(async (_opts: unknown, self: Command) => {
    const config = loadConfig(flagValues(self), process.env);
    const logger = createLogger(config.logLevel);
    const server = await startServer(config, { logger });
    process.stderr.write(banner(config, server.url));
    superviseServer(server, {
      logger,
      graceMs: config.delivery.shutdownGraceMs,
      // Once stopped, the process ends by itself with this code (after its output is flushed).
      exit: (code, immediately) => (immediately ? process.exit(code) : void (process.exitCode = code)),
    });
  });
  return cmd;
}
