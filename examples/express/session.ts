// A minimal signed session: a cookie holding the user id and an HMAC of it (node:crypto), so a
// browser cannot claim another user's id. Enough for the example; a real app would use its own
// session store or auth library (express-session, Passport, an identity provider).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';

export const SESSION_COOKIE = 'example_session';

export interface Session {
  /** The signed-in user's id, or undefined. */
  read(req: IncomingMessage): string | undefined;
  /** Signs `userId` into the session cookie of this response. */
  start(res: ServerResponse, userId: string, secure: boolean): void;
  /** Expires the session cookie. */
  end(res: ServerResponse, secure: boolean): void;
}

/** `secret` signs the cookie; by default a random one, so restarting the app signs everyone out. */
export function createSession(secret: string | Buffer = randomBytes(32)): Session {
  const sign = (userId: string): string => createHmac('sha256', secret).update(userId).digest('base64url');
  const cookie = (res: ServerResponse, value: string, secure: boolean, expire = false): void => {
    // A browser-session cookie: HttpOnly (scripts never see it), SameSite=Lax (not sent on cross-site POSTs).
    // Expiring sets both Max-Age=0 and a past Expires, which every client honours.
    const line = stringifySetCookie({
      name: SESSION_COOKIE,
      value,
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure,
      ...(expire ? { maxAge: 0, expires: new Date(0) } : {}),
    });
    const previous = res.getHeader('set-cookie');
    res.setHeader('set-cookie', previous === undefined ? [line] : [...([] as string[]).concat(previous as string | string[]), line]);
  };
  return {
    read(req) {
      const value = req.headers.cookie ? parseCookie(req.headers.cookie)[SESSION_COOKIE] : undefined;
      if (!value) return undefined;
      const dot = value.lastIndexOf('.');
      if (dot <= 0) return undefined;
      const userId = value.slice(0, dot);
      const given = Buffer.from(value.slice(dot + 1));
      const expected = Buffer.from(sign(userId));
      return given.length === expected.length && timingSafeEqual(given, expected) ? userId : undefined;
    },
    start(res, userId, secure) {
      cookie(res, `${userId}.${sign(userId)}`, secure);
    },
    end(res, secure) {
      cookie(res, '', secure, true);
    },
  };
}
