/** The error bodies the CLI may meet: the API's (contract §1) and OAuth2's (RFC 6749 §5.2). */
interface ApiErrorBody {
  error?: { code?: unknown; message?: unknown; details?: Array<{ message?: unknown; target?: unknown }> } | string;
  error_description?: unknown;
}

/** `403 InsufficientPermissions: message (target: detail)` from an API (or OAuth) error answer. */
export function describeApiError(answer: { status: number; json: unknown; text: string }): string {
  const body = (answer.json ?? {}) as ApiErrorBody;
  const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();
  if (typeof body.error === 'object' && body.error !== null) {
    const code = typeof body.error.code === 'string' ? body.error.code : 'Error';
    let text = `${answer.status} ${code}`;
    if (typeof body.error.message === 'string') text += `: ${oneLine(body.error.message)}`;
    const details = Array.isArray(body.error.details) ? body.error.details : [];
    const first = details[0];
    if (first !== undefined && typeof first.message === 'string') {
      const target = typeof first.target === 'string' ? `${first.target}: ` : '';
      text += ` (${target}${oneLine(first.message)}${details.length > 1 ? `; and ${details.length - 1} more` : ''})`;
    }
    return text;
  }
  if (typeof body.error === 'string') {
    // OAuth2 error shape (RFC 6749 §5.2)
    return `${answer.status} ${body.error}${typeof body.error_description === 'string' ? `: ${oneLine(body.error_description)}` : ''}`;
  }
  const snippet = oneLine(answer.text).slice(0, 120);
  return `${answer.status}${snippet === '' ? '' : `: ${snippet}`}`;
}
