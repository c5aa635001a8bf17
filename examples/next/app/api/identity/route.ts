// The request's identity as a Route Handler sees it. On a browser's very first request the proxy's
// new id is already in request.cookies, and tracking uses the same one.
import { withTracking } from '../../../lib/tracking';

export const GET = withTracking(async (request, { tracking }) => {
  tracking.track('Checked Identity', { router: 'app' });
  return Response.json({
    deviceId: tracking.deviceId,
    userId: tracking.userId ?? null,
    cookie: request.cookies.get('idstitch_device')?.value ?? null,
  });
});
