// Compiled by test/package.test.ts as an ES module consumer of idstitch/fastify.
import Fastify, { type FastifyRequest } from 'fastify';
import { createTracker, type Tracker } from 'idstitch';
import { identifyUser, identityOf, resetUser, tracking } from 'idstitch/fastify';

const app = Fastify();
await app.register(tracking, { token: 'token', getUserId: (request: FastifyRequest) => request.headers['x-user'] as string | undefined });
const tracker: Tracker = app.idstitch;
app.get('/pricing', async (request) => {
  request.track('Viewed Pricing', { plan: 'pro' });
  request.people.set({ plan: 'pro' });
  request.register({ experiment: 'b' });
  const linked: string | undefined = identifyUser(request, 'u1');
  resetUser(request);
  return { linked, deviceId: identityOf(request)?.deviceId };
});
// @ts-expect-error the event name is a string
app.get('/bad', async (request) => request.track(42));
// @ts-expect-error a user id is a string or a number
app.get('/worse', async (request) => identifyUser(request, { id: 1 }));
// A tracker shared between apps.
await Fastify().register(tracking, { tracker: createTracker({ apiHost: 'http://127.0.0.1:7600' }) });
void tracker.flush();
