import { randomUUID } from 'node:crypto';
import { compileBodySchema } from '../contract/ajv.ts';
import { detail, errors, type ErrorDetail } from '../contract/errors.ts';
import { PublishBatch, PublishEvent } from '../contract/schemas/events.ts';
import { detailsFromSchemaErrors } from '../contract/validation.ts';
import { createCatalogCache, createOwnerCache } from '../catalog/catalogCache.ts';
import type { ContentValidator } from '../catalog/contentValidator.ts';
import type { DirectoryRepo, EventTypesRepo, NewEvent } from '../store/types.ts';

/**
 * How long an iTwin's owning account is remembered. Producers publish the same iTwins over
 * and over; a move of an iTwin to another account takes effect after at most this long.
 */
const DIRECTORY_TTL_MS = 5000;

/** Largest accepted `content` of one event, as JSON text. */
export const MAX_CONTENT_BYTES = 1024 * 1024;

interface RawEvent {
  eventType: string;
  iTwinId: string;
  accountId?: string;
  content: Record<string, unknown>;
  messageId?: string;
}

export interface EventChecker {
  /**
   * Turns a publish body (one event, or {"events": [...]}) into events ready to store, or
   * throws a 422 InvalidEventRequest listing every problem of every event: a batch is
   * accepted whole or not at all.
   */
  check(body: unknown, publisherClientId: string | undefined): Promise<NewEvent[]>;
}

export function createEventChecker(deps: { store: EventTypesRepo & DirectoryRepo; contentValidator: ContentValidator }): EventChecker {
  const { store, contentValidator } = deps;
  const catalog = createCatalogCache(store);
  const directory = createOwnerCache(store, DIRECTORY_TTL_MS);
  const single = compileBodySchema(PublishEvent);
  const batch = compileBodySchema(PublishBatch);

  return {
    async check(body, publisherClientId) {
      const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'events' in body;
      const validate = isBatch ? batch : single;
      if (!validate(body)) {
        throw errors.validation('InvalidEventRequest', detailsFromSchemaErrors(validate.errors ?? []));
      }
      const raws: RawEvent[] = isBatch ? (body as { events: RawEvent[] }).events : [body as RawEvent];
      const prefix = (i: number) => (isBatch ? `events[${i}].` : '');
      const problems: ErrorDetail[] = [];

      // Two lookups per request, whatever its size.
      const types = await catalog.get([...new Set(raws.map((r) => r.eventType))]);
      const itwins = [...new Set(raws.map((r) => r.iTwinId.toLowerCase()))];
      const owners = itwins.length === 0 ? {} : await directory.accounts(itwins);
      const accounts = new Map<string, string | undefined>(itwins.map((i) => [i, owners[i]]));

      const events = raws.map((r, i): NewEvent => {
        const p = prefix(i);
        const type = types.get(r.eventType);
        if (type === undefined) {
          problems.push(detail('InvalidValue', `${p}eventType`, `${r.eventType} is not a known event type; see GET /webhooks/event-types.`));
        } else {
          problems.push(...contentValidator.validate(type.type, type.contentSchema, r.content, `${p}content`));
        }
        const contentJson = JSON.stringify(r.content);
        if (Buffer.byteLength(contentJson) > MAX_CONTENT_BYTES) {
          problems.push(detail('InvalidValue', `${p}content`, `${p}content is larger than ${MAX_CONTENT_BYTES} bytes.`));
        }
        // iTwinId is required (the schema says so): every delivery body carries it, as the hosted API's do.
        const itwinId = r.iTwinId.toLowerCase();
        let accountId = r.accountId?.toLowerCase();
        const owner = accounts.get(itwinId);
        if (owner === undefined && accountId === undefined) {
          problems.push(detail('InvalidValue', `${p}iTwinId`, `iTwin ${itwinId} is not in the directory; send its accountId too.`));
        } else if (owner !== undefined && accountId !== undefined && owner !== accountId) {
          problems.push(detail('InvalidValue', `${p}accountId`, `iTwin ${itwinId} belongs to account ${owner}, not ${accountId}.`));
        }
        accountId ??= owner;
        return {
          messageId: r.messageId?.toLowerCase() ?? randomUUID(),
          eventType: r.eventType,
          itwinId,
          accountId,
          contentJson,
          publisherClientId,
        };
      });
      if (problems.length > 0) throw errors.validation('InvalidEventRequest', problems);
      return events;
    },
  };
}
