// Compiled by test/package.test.ts as a CommonJS consumer of idstitch/fastify.
import Fastify = require('fastify');
import adapter = require('idstitch/fastify');

const app = Fastify.fastify();
void app.register(adapter.tracking, { token: 'token', region: 'EU' }).after(() => {
  app.get('/', async (request) => {
    request.track('Viewed Home');
    adapter.identifyUser(request);
    adapter.resetUser(request);
    const identity: { deviceId: string; userId: string | undefined } | undefined = adapter.identityOf(request);
    return identity;
  });
});
// @ts-expect-error properties are an object
app.get('/bad', async (request) => request.track('E', 'not an object'));
void app.idstitch.shutdown();
