/**
 * Counts events per key in fixed windows that start at a key's first event: the building
 * block of this process's own limits (failed logins, test events). Bounded: past `maxKeys`
 * keys the oldest window is forgotten first.
 */
export interface FixedWindows {
  /** Events counted for `key` in its current window (0 when it has none). */
  count(key: string, now: number): number;
  /** Counts one event; returns the count with it. */
  hit(key: string, now: number): number;
  /** Milliseconds until the key's window ends (0 when it has none). */
  remaining(key: string, now: number): number;
  forget(key: string): void;
}

export function createFixedWindows(windowMs: number, maxKeys = 100_000): FixedWindows {
  const windows = new Map<string, { n: number; endsAt: number }>();
  const current = (key: string, now: number) => {
    const w = windows.get(key);
    if (w !== undefined && w.endsAt <= now) {
      windows.delete(key);
      return undefined;
    }
    return w;
  };
  return {
    count: (key, now) => current(key, now)?.n ?? 0,
    hit(key, now) {
      const w = current(key, now);
      if (w !== undefined) return ++w.n;
      // Map order is insertion order: the first key is the oldest window.
      if (windows.size >= maxKeys) windows.delete(windows.keys().next().value!);
      windows.set(key, { n: 1, endsAt: now + windowMs });
      return 1;
    },
    remaining: (key, now) => {
      const w = current(key, now);
      return w === undefined ? 0 : w.endsAt - now;
    },
    forget: (key) => void windows.delete(key),
  };
}
