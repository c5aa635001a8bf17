// A public, cacheable answer (what a CDN is told to keep for ten minutes). When it is a browser's
// first request, the proxy's device id makes it private instead.
export function GET(): Response {
  return Response.json({ plans: ['hobby', 'pro'] }, { headers: { 'cache-control': 'public, s-maxage=600' } });
}
