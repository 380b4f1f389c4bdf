import { RE2JS } from 're2js';
import { BUILTIN_EVENT_TYPES } from './builtinEventTypes.ts';

/**
 * Regular expressions from registered content schemas (`pattern`, `patternProperties`) run on
 * RE2 (re2js, pure JavaScript): its time is linear in the input, so a pattern such as
 * `^(a+)+$` cannot hold the event loop the way a backtracking engine lets it (one 33-character
 * string held V8's for 19 s). RE2 has no backreferences and no lookaround; a schema that uses
 * them is refused when it is registered, with the reason. The built-in catalog's own patterns
 * are ours, fixed and free of nested quantifiers: they keep V8's engine, several times faster
 * on every publish.
 */
export interface RegExpLike {
  test(input: string): boolean;
  toString(): string;
}

const TRUSTED_PATTERNS: ReadonlySet<string> = new Set(BUILTIN_EVENT_TYPES.flatMap((t) => patternsOf(t.contentSchema)));

function patternsOf(schema: unknown): string[] {
  if (typeof schema !== 'object' || schema === null) return [];
  const own = (schema as { pattern?: unknown }).pattern;
  return [...(typeof own === 'string' ? [own] : []), ...Object.values(schema).flatMap(patternsOf)];
}

/** Compiles an ECMAScript pattern (as JSON Schema writes them) for linear-time matching, or throws saying why it cannot. */
export function linearRegExp(pattern: string): RegExpLike {
  try {
    const re = RE2JS.compile(RE2JS.translateRegExp(pattern));
    // Ajv shares one compiled pattern between schemas by its toString(), as a RegExp's is.
    return { test: (input) => re.test(input), toString: () => `re2:${pattern}` };
  } catch (err) {
    const reason = (err as Error).message.replace(/^error parsing regexp: /, '');
    throw new Error(`pattern ${JSON.stringify(pattern)} cannot be matched in linear time (no backreferences or lookaround): ${reason}`);
  }
}

/** Ajv's `code.regExp`: the built-in catalog's patterns on V8's engine, every other one on RE2. */
export const contentPatternEngine = Object.assign(
  (pattern: string, flags: string): RegExpLike => (TRUSTED_PATTERNS.has(pattern) ? new RegExp(pattern, flags) : linearRegExp(pattern)),
  { code: 'contentPatternEngine' },
);
