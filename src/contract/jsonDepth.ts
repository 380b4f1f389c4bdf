/**
 * Contract §1, nesting: no JSON body may nest objects and arrays deeper than this (the body's
 * own object is level 1). Every real body is far shallower; the limit keeps recursive work on
 * a body (schema validation, serialisation, a registered content schema compiled) from ever
 * running out of stack: 10,000 levels did, and answered 500.
 */
export const MAX_JSON_DEPTH = 64;

/** True when `value` nests objects and arrays deeper than `limit`. Iterative, so any depth is safe to ask about. */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (typeof top.value !== 'object' || top.value === null) continue;
    if (top.depth > limit) return true;
    for (const child of Object.values(top.value)) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: top.depth + 1 });
    }
  }
  return false;
}
