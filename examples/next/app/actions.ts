'use server';
// Server Actions: sign-up and log-out. actionTracking() may set the device cookie here (log-out
// rotates it); redirect() throws Next's redirect, which idstitch lets through untouched.
import { redirect } from 'next/navigation';
import { endSession, startSession } from '../lib/auth';
import { actionTracking } from '../lib/tracking';
import { MIN_PASSWORD_LENGTH, users } from '../lib/users';

export async function signUp(form: FormData): Promise<void> {
  const name = String(form.get('name') ?? '').trim();
  const email = String(form.get('email') ?? '');
  const password = String(form.get('password') ?? '');
  const problem =
    !name || name.length > 80
      ? 'Please give a name of at most 80 characters.'
      : !/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 200
        ? 'Please give a valid e-mail address.'
        : password.length < MIN_PASSWORD_LENGTH || password.length > 200
          ? `The password needs ${MIN_PASSWORD_LENGTH} to 200 characters.`
          : undefined;
  if (problem) redirect(`/signup?error=${encodeURIComponent(problem)}`);
  const user = await users().create(email, name, password);
  if (!user) redirect(`/signup?error=${encodeURIComponent('An account with this e-mail exists: log in instead.')}`);
  await startSession(user.id);
  const tracking = await actionTracking();
  tracking.identify(user.id); // links this browser's anonymous history to the new user
  tracking.track('Signed Up', { method: 'email' });
  redirect('/whoami');
}

export async function logOut(): Promise<void> {
  const tracking = await actionTracking();
  if (tracking.userId !== undefined) tracking.track('Logged Out'); // still carries the user
  tracking.reset(); // a new device id: the next person on this browser starts anonymous
  await endSession();
  redirect('/');
}
