// Compiled by test/package.test.ts as an ES module consumer of idstitch/koa.
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import Koa from 'koa';
import { createTracker } from 'idstitch';
import { identifyUser, identityOf, resetUser, tracking, type KoaContext, type TrackingMiddleware } from 'idstitch/koa';

const middleware: TrackingMiddleware = tracking({
  token: 'token',
  getUserId: (ctx: Koa.Context) => (ctx.state.account as { id: string } | undefined)?.id,
});
const shared: TrackingMiddleware = tracking(createTracker({ apiHost: 'http://127.0.0.1:7600' }));
const app = new Koa();
app.use(middleware).use(shared);
app.use(async (ctx, next) => {
  ctx.track('Viewed Home', { plan: 'pro' });
  const linked: string | undefined = identifyUser(ctx, 'u1');
  resetUser(ctx);
  const deviceId: string | undefined = identityOf(ctx)?.deviceId;
  ctx.body = { linked, deviceId };
  await next();
});
// @ts-expect-error the event name is a string
app.use((ctx) => ctx.track(42));

// An app that declares its own state and context keeps them and gets ctx.track from Koa's use() typing.
interface AppState {
  user?: { id: string };
}
interface AppContext {
  requestId: string;
}
const typed = new Koa<AppState, AppContext>().use(tracking());
typed.use((ctx) => {
  ctx.track('Typed', { requestId: ctx.requestId });
  const context: KoaContext = ctx;
  identifyUser(context, ctx.state.user?.id);
});
// @ts-expect-error properties are an object
typed.use((ctx) => ctx.track('E', 'not an object'));
// @ts-expect-error identifyUser takes the Koa ctx, not the Node request
identifyUser(new IncomingMessage(new Socket()));
// @ts-expect-error a user id is a string or a number
app.use((ctx) => identifyUser(ctx, { id: 1 }));
void middleware.tracker.flush();
