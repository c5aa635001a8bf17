// Compiled as a CommonJS consumer of the built package: idstitch/next and idstitch/next/proxy.
import idstitchNext = require('idstitch/next');
import nextProxy = require('idstitch/next/proxy');
import type { NextRequest } from 'next/server';

export const proxy: nextProxy.DeviceIdProxy = nextProxy.withDeviceId({ cookie: { secure: true } });
const tracking: idstitchNext.NextTracking = idstitchNext.nextTracking({ region: 'EU', getUserId: () => undefined });
export const POST = tracking.withTracking(async (request: NextRequest, { tracking: t }) => {
  t.track('Posted', { path: request.nextUrl.pathname });
  return new Response(null, { status: 204 });
});
// @ts-expect-error the event name is a string
export const BAD = tracking.withTracking((_request, { tracking: t }) => (t.track(1), new Response()));
