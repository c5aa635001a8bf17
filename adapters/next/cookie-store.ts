// Next's `cookies()` store, which Server Actions and Route Handlers write through.
import type { cookies } from 'next/headers.js';
import type { NormalizedCookie } from '../../src/cookie-config.js';
import type { OutgoingCookie } from '../../src/request-context.js';

export type CookieStore = Awaited<ReturnType<typeof cookies>>;

/** Sets one of idstitch's cookies through Next's cookie API, which takes fields rather than a line. */
export function setThroughStore(store: CookieStore, cookie: NormalizedCookie, outgoing: OutgoingCookie, secure: boolean): void {
  const { fields } = cookie;
  const maxAge = outgoing.expired ? 0 : fields.maxAge;
  store.set({
    name: outgoing.name,
    value: outgoing.value,
    httpOnly: true,
    path: fields.path,
    sameSite: fields.sameSite,
    secure: secure ? fields.secure.secure : fields.secure.insecure,
    ...(fields.domain !== undefined ? { domain: fields.domain } : {}),
    ...(maxAge !== undefined ? { maxAge } : {}),
  });
}
