// The example's sign-in state, read and written through Next's cookies(): what an auth library
// (Auth.js, Clerk, …) would do for a real app.
import { cookies, headers } from 'next/headers';
import { SESSION_COOKIE, signSession, users, verifySession, type User } from './users';

/** The signed-in user, or undefined. Works in Server Components, Server Actions and Route Handlers. */
export async function currentUser(): Promise<User | undefined> {
  const userId = verifySession((await cookies()).get(SESSION_COOKIE)?.value);
  return userId === undefined ? undefined : users().byId(userId);
}

/** Signs the user in for the rest of this browser session (Server Actions and Route Handlers only). */
export async function startSession(userId: string): Promise<void> {
  const https = ((await headers()).get('x-forwarded-proto') ?? '').includes('https');
  (await cookies()).set(SESSION_COOKIE, signSession(userId), { httpOnly: true, sameSite: 'lax', path: '/', secure: https });
}

export async function endSession(): Promise<void> {
  (await cookies()).delete(SESSION_COOKIE);
}
