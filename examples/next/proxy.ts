// Issues the device id before anything renders, so the first request's pages and handlers already
// see it (in cookies(), request.cookies and getTracking()). Next 16 runs proxy.ts on Node.js; the
// same line works in a middleware.ts on the Edge runtime (export it as `middleware`).
import { withDeviceId } from 'idstitch/next/proxy';

export const proxy = withDeviceId();

export const config = {
  // Everything but static files: they need no id, and skipping them keeps the proxy off the hot path.
  matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'],
};
