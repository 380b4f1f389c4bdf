/**
 * Produces a "fresh" copy of an event type's example content: ids are
 * regenerated so that repeated sample/test deliveries do not all carry the
 * same ids. Driven purely by the content schema, so it works for built-in and
 * user-registered event types alike.
 *
 * For each top-level property present in the example:
 *  - schema `format: "uuid"`                      -> new crypto.randomUUID()
 *  - schema `pattern` that means "40 hex chars"   -> 40 new random lower-case hex chars
 *  - integer property named `changesetIndex`      -> new random positive integer
 *    (kept within the schema's minimum/maximum)
 *  - anything else                                -> deep copy of the example value
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { contentPatternEngine } from './linearRegExp.ts';

/** How many candidate values a regenerated changesetIndex is drawn from. */
const INDEX_SPREAD = 100_000;

export function freshExample(def: {
  contentSchema: Record<string, unknown>;
  example: Record<string, unknown>;
}): Record<string, unknown> {
  const fresh = structuredClone(def.example);
  const properties = def.contentSchema['properties'];
  if (!isRecord(properties)) return fresh;

  for (const key of Object.keys(fresh)) {
    const prop = properties[key];
    if (!isRecord(prop)) continue;
    if (prop['format'] === 'uuid') {
      fresh[key] = randomUUID();
    } else if (typeof prop['pattern'] === 'string' && denotesFortyHexChars(prop['pattern'])) {
      fresh[key] = randomBytes(20).toString('hex');
    } else if (key === 'changesetIndex' && allowsInteger(prop['type'])) {
      const index = randomIndex(prop);
      if (index !== undefined) fresh[key] = index;
    }
  }
  return fresh;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function allowsInteger(type: unknown): boolean {
  return type === 'integer' || (Array.isArray(type) && type.includes('integer'));
}

// Module state, but only a memo of a pure function (the same pattern always gets the same
// answer, whoever asks), so no test or server can see another's; it holds one boolean per
// distinct `pattern` in the catalog's schemas.
const hexPatternCache = new Map<string, boolean>();

/**
 * True when the regular expression accepts exactly the strings of 40
 * hexadecimal characters (lower case at least), whatever its spelling:
 * `^[0-9a-f]{40}$`, `^[a-fA-F0-9]{40}$`, ... Decided by probing the pattern
 * rather than parsing it.
 */
function denotesFortyHexChars(pattern: string): boolean {
  const cached = hexPatternCache.get(pattern);
  if (cached !== undefined) return cached;
  let result = false;
  try {
    const re = contentPatternEngine(pattern, 'u'); // as Ajv compiles it: a registered pattern runs in linear time
    const hex = '0123456789abcdef'.repeat(3);
    result =
      re.test(hex.slice(0, 40)) &&
      re.test('f'.repeat(40)) &&
      !re.test(hex.slice(0, 39)) &&
      !re.test(hex.slice(0, 41)) &&
      !re.test('z'.repeat(40)) &&
      !re.test('');
  } catch {
    result = false;
  }
  hexPatternCache.set(pattern, result);
  return result;
}

/** A random positive integer within the schema's bounds, or undefined if none fits. */
function randomIndex(prop: Record<string, unknown>): number | undefined {
  const { minimum, exclusiveMinimum, maximum, exclusiveMaximum } = prop;
  let lo = 1;
  if (typeof minimum === 'number') lo = Math.max(lo, Math.ceil(minimum));
  if (typeof exclusiveMinimum === 'number') lo = Math.max(lo, Math.floor(exclusiveMinimum) + 1);
  let hi = lo + INDEX_SPREAD - 1;
  if (typeof maximum === 'number') hi = Math.min(hi, Math.floor(maximum));
  if (typeof exclusiveMaximum === 'number') hi = Math.min(hi, Math.ceil(exclusiveMaximum) - 1);
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi + 1) || lo > hi) return undefined;
  return randomInt(lo, hi + 1);
}
