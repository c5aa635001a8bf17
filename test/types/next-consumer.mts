// Compiled as an ES module consumer of the built package: idstitch/next and idstitch/next/proxy.
import type { NextApiRequest, NextApiResponse } from 'next';
import { NextResponse, type NextFetchEvent, type NextRequest } from 'next/server.js';
import { createTracker, type TrackerStats } from 'idstitch';
import { nextTracking, type NextTracking, type Tracking, type UserIdSource } from 'idstitch/next';
import { withDeviceId, type DeviceIdProxy } from 'idstitch/next/proxy';

// proxy.ts, alone and wrapping the app's own proxy.
export const proxy: DeviceIdProxy = withDeviceId();
export const wrapped = withDeviceId(
  async (request: NextRequest, _event: NextFetchEvent) =>
    request.nextUrl.pathname === '/old' ? NextResponse.redirect(new URL('/new', request.url)) : undefined,
  {
    cookie: { name: 'did', maxAge: 3600 },
  },
);
// @ts-expect-error cookie options are checked
withDeviceId({ cookie: { sameSite: 'sometimes' } });

const next: NextTracking = nextTracking({
  token: 'token',
  getUserId: async (source: UserIdSource) =>
    source.type === 'api' ? source.req.cookies.uid : source.type === 'route' ? source.request.cookies.get('uid')?.value : null,
  flushAfterResponse: true,
});
const shared = nextTracking(createTracker({ apiHost: 'http://127.0.0.1:7600' }), { getUserId: () => 7 });
// @ts-expect-error getUserId returns an id, not an object
nextTracking({ getUserId: () => ({ id: 1 }) });

// A Route Handler with params.
export const GET = next.withTracking<{ params: Promise<{ slug: string }> }>(async (_request, { params, tracking }) => {
  tracking.track('Viewed Plan', { slug: (await params).slug });
  const linked: string | undefined = tracking.identify('u1');
  tracking.reset();
  return Response.json({ linked, deviceId: tracking.deviceId });
});
// @ts-expect-error a handler returns a Response
shared.withTracking(() => 'text');

// Server Components and Server Actions.
export async function Page(): Promise<string> {
  const tracking: Tracking = await next.getTracking();
  tracking.track('Viewed Page');
  const { track } = await next.actionTracking();
  track('Submitted');
  return tracking.deviceId;
}

// A Pages Router API route.
export default next.withApiTracking((_req: NextApiRequest, res: NextApiResponse, tracking) => {
  tracking.track('Called API');
  res.status(200).json({ deviceId: tracking.deviceId, userId: tracking.userId ?? null });
});

const stats: TrackerStats = next.tracker.stats();
void stats;
