import { getTracking } from '../lib/tracking';

export default async function Home() {
  const tracking = await getTracking();
  tracking.track('Viewed Home', { path: '/' });
  const collector = process.env.IDSTITCH_API_HOST;
  return (
    <>
      <h1>Home</h1>
      <p>
        This app tracks on the server with idstitch: the proxy gives each browser a device id in an HttpOnly cookie before the page renders,
        so even your first page view carries it (<code>$device_id</code>). After sign-up or log-in, events also carry your user id (
        <code>$user_id</code>); log-out starts a new device id. Watch what Mixpanel would derive on{' '}
        {collector ? (
          <a href={`${collector}/`} target="_blank" rel="noopener">
            the local collector
          </a>
        ) : (
          'your Mixpanel project'
        )}
        .
      </p>
      <p>
        This page was rendered for device <code id="device-id">{tracking.deviceId}</code>.
      </p>
      <div className="card">
        <h2>1. New user signup</h2>
        <ol>
          <li>
            Browse <a href="/">Home</a> and <a href="/pricing">Pricing</a>: the events carry only your device id.
          </li>
          <li>
            <a href="/signup">Sign up</a> (a Server Action): <code>tracking.identify(user.id)</code> sends one event with both ids, which
            links this device to you, retroactively.
          </li>
        </ol>
      </div>
      <div className="card">
        <h2>2. Returning user on a new device</h2>
        <ol>
          <li>Open this app in another browser profile or a private window: a new device id.</li>
          <li>
            <a href="/login">Log in</a> (a Route Handler) as the user from flow 1: one user, two devices.
          </li>
        </ol>
      </div>
      <div className="card">
        <h2>3. Several users on one device</h2>
        <ol>
          <li>
            Log out (a Server Action): <code>tracking.reset()</code> gives this browser a new device id.
          </li>
          <li>Sign up as someone else: the second user never merges with the first.</li>
        </ol>
      </div>
    </>
  );
}
