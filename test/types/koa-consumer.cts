// Compiled by test/package.test.ts as a CommonJS consumer of idstitch/koa.
import Koa = require('koa');
import idstitch = require('idstitch');
import adapter = require('idstitch/koa');

const middleware: adapter.TrackingMiddleware = adapter.tracking({ token: 'token' });
const app = new Koa();
app.use(middleware);
app.use((ctx: Koa.Context) => {
  ctx.track('Viewed Home');
  adapter.identifyUser(ctx);
  adapter.resetUser(ctx);
  const identity: { deviceId: string; userId: string | undefined } | undefined = adapter.identityOf(ctx);
  ctx.body = identity;
});
// @ts-expect-error properties are an object
app.use((ctx) => ctx.track('E', 'not an object'));
// @ts-expect-error tracking() takes options or a Tracker, not a context
app.use(adapter.tracking(app.context));
const tracker: idstitch.Tracker = adapter.createTracker({ region: 'EU' });
void adapter.tracking(tracker).tracker.shutdown();
