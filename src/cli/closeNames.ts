import { distance as editDistance } from 'fastest-levenshtein';

/** Up to `n` known names closest to `wanted`, for a "did you mean ...?" (case-insensitive edit distance; a shared part counts). */
export function closeNames(wanted: string, known: string[], n = 4): string[] {
  const w = wanted.toLowerCase();
  const parts = w.split('.').filter((p) => p.length >= 3);
  const score = (name: string) => {
    const l = name.toLowerCase();
    const shared = parts.some((p) => l.split('.').includes(p) || (p.length >= 5 && l.includes(p)));
    return editDistance(w, l) - (shared ? 10 : 0);
  };
  return known
    .map((name) => ({ name, s: score(name) }))
    .sort((a, b) => a.s - b.s || a.name.localeCompare(b.name))
    .slice(0, n)
    .map((x) => x.name);
}
