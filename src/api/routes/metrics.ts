import type { FastifyPluginAsync } from 'fastify';
import type { AppDeps } from '../deps.ts';

export const metricsRoutes =
  (deps: AppDeps): FastifyPluginAsync =>
  async (app) => {
    app.get(
      '/metrics',
      { schema: { summary: 'Prometheus metrics', tags: ['Operations'], produces: ['text/plain'] } },
      async (_request, reply) => reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
    );
  };
