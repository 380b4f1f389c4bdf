import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { deliveryBody, signatureHeaders } from '../../delivery/signing.ts';
import type { AppDeps } from '../deps.ts';
import type { WebhookAccess } from '../webhookAccess.ts';
import { errors } from '../../contract/errors.ts';
import { commonErrors, errorResponse, Timestamp } from '../../contract/schemas/common.ts';
import { sealedFor } from '../../crypto/secretBox.ts';

export const SignedRequestSchema = Type.Object(
  {
    attempt: Type.Integer(),
    dateTime: Timestamp('When the attempt started (webhook-timestamp is its Unix second).'),
    headers: Type.Object(
      {
        'content-type': Type.String(),
        signature: Type.String({ description: 'sha256=<hex HMAC-SHA256 of the body>, as the hosted API signs.' }),
        'webhook-id': Type.String(),
        'webhook-timestamp': Type.String(),
        'webhook-signature': Type.String({ description: 'Standard Webhooks v1,<base64> over id.timestamp.body.' }),
      },
      { additionalProperties: false },
    ),
    body: Type.String({ description: 'The exact bytes that were signed and POSTed.' }),
    webhookModifiedSince: Type.Boolean({
      description: 'The webhook changed after this attempt. The headers are signed with its current secret: if the secret was rotated since, the attempt carried signatures of the previous one.',
    }),
  },
  { additionalProperties: false, title: 'SignedRequest' },
);

/**
 * The exact signed request of one attempt, for a receiver's author checking their
 * verification code. Nothing extra is stored per attempt: the body, the attempt's start
 * and the webhook's secret determine every signature header. [ext]
 */
export const signedRequestRoutes =
  (deps: AppDeps, access: WebhookAccess): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      `${access.prefix}/:webhookId/deliveries/:deliveryId/attempts/:attempt/request`,
      {
        config: { auth: access.auth },
        schema: {
          summary: 'Get the signed request of an attempt',
          description: 'The body and the signature headers exactly as that attempt sent them (with the webhook\'s current secret).',
          tags: [access.tag],
          security: [{ bearer: [] }],
          params: Type.Object({ webhookId: Type.String(), deliveryId: Type.String(), attempt: Type.String() }),
          response: { 200: SignedRequestSchema, ...commonErrors, 404: errorResponse('WebhookNotFound, DeliveryNotFound or AttemptNotFound.') },
        },
      },
      async (request) => {
        const webhook = await access.find(request, request.params.webhookId);
        const delivery = await deps.store.getDelivery(webhook.id, request.params.deliveryId);
        if (delivery === undefined) throw errors.deliveryNotFound();
        const wanted = /^[1-9]\d{0,5}$/.test(request.params.attempt) ? Number(request.params.attempt) : undefined;
        const attempt = delivery.attemptLog.find((a) => a.attempt === wanted);
        if (attempt === undefined) throw errors.attemptNotFound();
        const body = deliveryBody(delivery, webhook.id);
        const secret = deps.box.open(webhook.secretSealed, sealedFor.webhookSecret(webhook.id));
        const signed = signatureHeaders(secret, delivery.messageId, body, Math.floor(attempt.startedAt / 1000));
        return {
          attempt: attempt.attempt,
          dateTime: new Date(attempt.startedAt).toISOString(),
          headers: {
            'content-type': 'application/json',
            signature: signed.signature!,
            'webhook-id': signed['webhook-id']!,
            'webhook-timestamp': signed['webhook-timestamp']!,
            'webhook-signature': signed['webhook-signature']!,
          },
          body,
          webhookModifiedSince: webhook.modifiedAt > attempt.startedAt,
        };
      },
    );
  };
