// What Next does with a proxy's answer before the page or handler runs: the override and cookie
// steps of Next's router (next/dist/server/lib/router-utils/resolve-routes.js) and request store
// (`mergeMiddlewareCookies`), written out so unit tests can read a proxy's response the way Next
// will. test/examples/next.test.ts checks the same against a real `next start`.
import { RequestCookies, ResponseCookies } from 'next/dist/compiled/@edge-runtime/cookies/index.js';
import { NextFetchEvent } from 'next/dist/server/web/spec-extension/fetch-event.js';
import { splitCookiesString } from 'next/dist/server/web/utils.js';
import { NextRequest } from 'next/server.js';

export interface Downstream {
  /** The request headers the page or Route Handler gets. */
  headers: Headers;
  /** The Route Handler's `request`. */
  request: NextRequest;
  /** What `cookies()` from next/headers returns there. */
  cookies: RequestCookies;
}

export function downstream(original: Request, answer: Response): Downstream {
  const headers = new Headers(original.headers);
  const listed = answer.headers.get('x-middleware-override-headers');
  if (listed !== null) {
    const names = new Set(listed.split(',').map((name) => name.trim()));
    for (const name of [...headers.keys()]) if (!names.has(name)) headers.delete(name);
    for (const name of names) {
      const value = answer.headers.get(`x-middleware-request-${name}`);
      if (value === null) headers.delete(name);
      else headers.set(name, value);
    }
  }
  const cookies = new RequestCookies(headers);
  const setForRequest = answer.headers.get('x-middleware-set-cookie');
  if (setForRequest !== null) {
    const lines = new Headers();
    for (const line of splitCookiesString(setForRequest)) lines.append('set-cookie', line);
    for (const cookie of new ResponseCookies(lines).getAll()) cookies.set(cookie);
  }
  return { headers, request: new NextRequest(original.url, { headers }), cookies };
}

/** The event Next passes a proxy as its second argument. */
export function fetchEvent(request: NextRequest): NextFetchEvent {
  return new NextFetchEvent({ request, page: '/', context: { waitUntil: () => {} } });
}
