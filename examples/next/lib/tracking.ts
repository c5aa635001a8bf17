// The app's one idstitch setup: everything else imports from here.
//
// Events go to IDSTITCH_API_HOST (the local collector, which `npm run example:next` starts) or, with
// MIXPANEL_TOKEN alone, to Mixpanel; with neither, they are validated and counted, never sent.
import { nextTracking } from 'idstitch/next';
import { currentUser } from './auth';
import { SESSION_COOKIE, verifySession } from './users';

export const { withTracking, getTracking, actionTracking, withApiTracking, tracker } = nextTracking({
  ...(process.env.IDSTITCH_API_HOST ? { apiHost: process.env.IDSTITCH_API_HOST } : {}),
  ...(process.env.MIXPANEL_TOKEN ? { token: process.env.MIXPANEL_TOKEN } : {}),
  // after() flushes after every response already; the interval only matters for events tracked
  // outside requests. IDSTITCH_FLUSH_INTERVAL_MS=600000 shows that nothing waits for it.
  flushIntervalMs: Number(process.env.IDSTITCH_FLUSH_INTERVAL_MS) || 500,
  // IDSTITCH_FLUSH_AFTER_RESPONSE=0 leaves events queued until the interval or shutdown (instrumentation.ts).
  flushAfterResponse: process.env.IDSTITCH_FLUSH_AFTER_RESPONSE !== '0',
  // Async, and asked once per request. With Auth.js: async () => (await auth())?.user?.id;
  // with Clerk: async () => (await auth()).userId.
  getUserId: async (source) => {
    if (source.type === 'api') return verifySession(source.req.cookies[SESSION_COOKIE]);
    return (await currentUser())?.id;
  },
});
