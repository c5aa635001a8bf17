// Header and cookie helpers the Next adapter and its proxy share. Web APIs only: the proxy may run
// on the Edge runtime.

/**
 * Runs `edit` on a response's headers. Fetch makes the headers of `Response.redirect()` and
 * `Response.error()` immutable (a `TypeError` on any change): such a response is copied first,
 * status, body and headers kept. A response that cannot be copied (`Response.error()`, status 0)
 * is returned unchanged: it reaches no browser that could store a cookie.
 */
export function editHeaders(response: Response, edit: (headers: Headers) => void): Response {
  try {
    edit(response.headers);
    return response;
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
  let copy: Response;
  try {
    copy = new Response(response.body, response);
  } catch {
    return response;
  }
  edit(copy.headers);
  return copy;
}

/**
 * Next itself fills in `x-forwarded-proto` for every request it serves (from the socket when no
 * proxy set it) and reads it this way. A client that lies about it only gets a cookie its own
 * browser will not keep.
 */
export function forwardedProtoIsHttps(value: string | null | undefined): boolean {
  return value !== null && value !== undefined && value.includes('https');
}

/**
 * Next's redirect(), notFound(), forbidden(), unauthorized() and its dynamic-rendering bail-outs
 * throw errors marked with a string `digest` (React's postpone with `$$typeof`), possibly as the
 * `cause` of another: they must reach Next unchanged.
 */
export function isNextControlFlow(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 8) return false;
  if (typeof (error as { digest?: unknown }).digest === 'string') return true;
  if ((error as { $$typeof?: unknown }).$$typeof === Symbol.for('react.postpone')) return true;
  return isNextControlFlow((error as { cause?: unknown }).cause, depth + 1);
}
