import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AppDeps } from '../deps.ts';
import { errors } from '../../contract/errors.ts';
import { errorResponse } from '../../contract/schemas/common.ts';

export const healthRoutes =
  (deps: AppDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/healthz',
      {
        schema: {
          summary: 'Liveness',
          description: 'Answers 200 while the process runs.',
          tags: ['Operations'],
          response: { 200: Type.Object({ status: Type.Literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/readyz',
      {
        schema: {
          summary: 'Readiness',
          description: 'Answers 200 when the data store answers, 503 otherwise.',
          tags: ['Operations'],
          response: { 200: Type.Object({ status: Type.Literal('ready') }), 503: errorResponse('ServiceUnavailable.') },
        },
      },
      async () => {
        try {
          await deps.store.ping();
        } catch {
          throw errors.serviceUnavailable('The data store is not reachable.');
        }
        return { status: 'ready' as const };
      },
    );
  };
