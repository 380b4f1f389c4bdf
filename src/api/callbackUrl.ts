/**
 * The static rules of a callback URL (contract §2). Where it may connect is decided
 * later, at connect time, by the SSRF guard: DNS can change after a webhook is created.
 */
export function callbackUrlProblem(raw: string, allowInsecure: boolean): string | undefined {
  // A lone surrogate would be stored as U+FFFD: what is kept would differ from what was sent.
  if (!raw.isWellFormed()) return 'callbackUrl must be well-formed Unicode.';
  // URL parsing silently trims and re-encodes; a URL that needs that was probably mistyped.
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) return 'callbackUrl must not contain spaces or control characters.';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'callbackUrl must be an absolute URL.';
  }
  if (url.protocol === 'http:') {
    if (!allowInsecure) return 'callbackUrl must use https.';
  } else if (url.protocol !== 'https:') {
    return allowInsecure ? 'callbackUrl must use https or http.' : 'callbackUrl must use https.';
  }
  if (url.hostname === '') return 'callbackUrl must name a host.';
  if (url.username !== '' || url.password !== '') return 'callbackUrl must not contain credentials.';
  if (url.hash !== '' || raw.includes('#')) return 'callbackUrl must not contain a fragment.';
  return undefined;
}
