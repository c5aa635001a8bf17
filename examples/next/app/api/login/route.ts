// Log-in as a Route Handler: withTracking gives it `tracking`; the device cookie, when one is due
// (no proxy in front), is added to the response returned here, keeping its own headers.
import { startSession } from '../../../lib/auth';
import { withTracking } from '../../../lib/tracking';
import { users } from '../../../lib/users';

export const POST = withTracking(async (request, { tracking }) => {
  const form = await request.formData();
  const user = await users().verify(String(form.get('email') ?? ''), String(form.get('password') ?? ''));
  if (!user) return seeOther(`/login?error=${encodeURIComponent('Unknown e-mail or wrong password.')}`);
  await startSession(user.id);
  tracking.identify(user.id); // this device now belongs to the user too
  tracking.track('Logged In', { method: 'email' });
  return seeOther('/whoami');
});

/**
 * A relative redirect: request.url names the address Next listens on (`localhost`), which need not
 * be the host the browser used, and the session cookie belongs to the latter.
 */
function seeOther(path: string): Response {
  return new Response(null, { status: 303, headers: { location: path } });
}
