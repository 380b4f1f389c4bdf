import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths that may hold a credential. Code never logs secrets on purpose; this is the
 * second line of defence for a careless `log.info({ body })`.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'secret',
  'clientSecret',
  'client_secret',
  'access_token',
  'accessToken',
  'token',
  'password',
  'encryptionKey',
  'databaseUrl',
  '*.secret',
  '*.clientSecret',
  '*.client_secret',
  '*.access_token',
  '*.accessToken',
  '*.token',
  '*.password',
  '*.encryptionKey',
  '*.databaseUrl',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'itwin-webhooks' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}
