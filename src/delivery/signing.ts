import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a delivery carries about its event. */
export interface DeliveryEvent {
  messageId: string;
  eventType: string;
  /** Every event published since iTwinId became required has one; older stored events may not (their body says null). */
  itwinId: string | undefined;
  /** The content as stored: already JSON text. */
  contentJson: string;
  enqueuedAt: number;
}

/**
 * The exact body POSTed to a callback (contract §4): all six members, key order as the hosted API sends them.
 * Built by concatenation because the content is stored as JSON text: parsing and
 * re-serialising it for every delivery would cost time and could change its bytes.
 */
export function deliveryBody(e: DeliveryEvent, webhookId: string, enqueuedIso = new Date(e.enqueuedAt).toISOString()): string {
  return (
    `{"content":${e.contentJson},"eventType":${JSON.stringify(e.eventType)},` +
    `"enqueuedDateTime":"${enqueuedIso}",` +
    `"iTwinId":${e.itwinId === undefined ? 'null' : JSON.stringify(e.itwinId)},` +
    `"messageId":${JSON.stringify(e.messageId)},"webhookId":${JSON.stringify(webhookId)}}`
  );
}

/**
 * deliveryBody for one sender, remembering the last time it formatted: deliveries go out in
 * runs of one publish's events, which share it.
 */
export function createBodyBuilder(): (e: DeliveryEvent, webhookId: string) => string {
  let lastMs = NaN;
  let lastIso = '';
  return (e, webhookId) => {
    if (e.enqueuedAt !== lastMs) {
      lastIso = new Date(e.enqueuedAt).toISOString();
      lastMs = e.enqueuedAt;
    }
    return deliveryBody(e, webhookId, lastIso);
  };
}

/** Lower-case hex HMAC-SHA256 of the body, keyed with the secret's UTF-8 bytes. */
export function signatureHex(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/**
 * The signature headers of one attempt: the hosted API's `Signature: sha256=<hex>`, plus
 * the Standard Webhooks trio (`webhook-signature` is `v1,<base64>` over `id.timestamp.body`)
 * so receivers can also verify with replay protection.
 */
export function signatureHeaders(secret: string, messageId: string, body: string, timestampSeconds: number): Record<string, string> {
  const standard = createHmac('sha256', secret).update(`${messageId}.${timestampSeconds}.${body}`).digest('base64');
  return {
    signature: `sha256=${signatureHex(secret, body)}`,
    'webhook-id': messageId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${standard}`,
  };
}

/** Checks a `Signature: sha256=<hex>` header in constant time. */
export function verifySignature(secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (header === undefined) return false;
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header.trim());
  if (match === null) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(match[1]!, 'hex'));
}
