import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/load.ts';

/** Base URL for links in answers: PUBLIC_URL when configured, else what the client called. */
export function linkBase(request: FastifyRequest, config: Pick<Config, 'publicUrl'>): string {
  return config.publicUrl ?? `${request.protocol}://${request.host}`;
}
