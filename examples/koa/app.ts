// The Koa example: the same pages and flows as the Express one (tracked pages, sign-up, log-in,
// log-out, "who am I"), with idstitch/koa. Users, the signed session cookie and the pages are
// shared with examples/express; only the wiring below is Koa's. Works with Koa 2 and 3.
//
//   const { app, tracker } = createApp({ apiHost: 'http://127.0.0.1:7600', token: 'demo' });
//   app.listen(3000);   // … and on shutdown: await tracker.shutdown();
//
// examples/koa/start.ts runs it against the local collector (idstitch/collector).
import Koa, { type Context } from 'koa';
import { identifyUser, identityOf, resetUser, tracking } from 'idstitch/koa';
import { exampleTrackerOptions, type ExampleApp as SharedExampleApp, type ExampleAppOptions } from '../express/app.js';
import { createSession } from '../express/session.js';
import { MIN_PASSWORD_LENGTH, UserStore, type User } from '../express/users.js';
import {
  homePage,
  loginPage,
  PAGE_HEADERS,
  pricingPage,
  signupPage,
  whoamiPage,
  type Framework,
  type PageContext,
} from '../express/views.js';

export type { ExampleAppOptions };

export type ExampleApp = SharedExampleApp<Koa>;

/** What the shared pages say about this app. */
const KOA: Framework = { name: 'Koa', identityCall: 'identityOf(ctx)', subpath: 'idstitch/koa', userSource: 'ctx.state.user.id' };

/** The largest form body accepted, in bytes (the Express example's `limit: '10kb'`). */
const FORM_LIMIT = 10 * 1024;

type Route = (ctx: Context) => void | Promise<void>;

export function createApp(options: ExampleAppOptions = {}): ExampleApp {
  const users = new UserStore();
  const session = createSession(options.sessionSecret);
  const middleware = tracking(exampleTrackerOptions(options));
  const app = new Koa();
  const context = (ctx: Context): PageContext => ({
    user: ctx.state.user as User | undefined,
    collectorUrl: options.collectorUrl,
    framework: KOA,
  });
  const page = (ctx: Context, html: string, status = 200): void => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = html;
  };

  app.use(async (ctx, next) => {
    ctx.set(PAGE_HEADERS);
    await next();
  });
  // The session first, so `ctx.state.user` is set before idstitch (and any route) asks for the user id.
  app.use(async (ctx, next) => {
    const userId = session.read(ctx.req);
    const user = userId === undefined ? undefined : users.byId(userId);
    if (user) ctx.state.user = user;
    await next();
  });
  app.use(middleware);

  /** Signs the user in for this response and links this browser's device id to them. */
  function signIn(ctx: Context, user: User): void {
    session.start(ctx.res, user.id, ctx.secure);
    ctx.state.user = user;
    identifyUser(ctx, user.id);
  }

  const routes: Record<string, Route> = {
    'GET /': (ctx) => {
      ctx.track('Viewed Home', { path: '/' });
      page(ctx, homePage(context(ctx)));
    },

    'GET /pricing': (ctx) => {
      ctx.track('Viewed Pricing', { path: '/pricing' });
      page(ctx, pricingPage(context(ctx)));
    },

    'GET /signup': (ctx) => page(ctx, signupPage(context(ctx))),

    'POST /signup': async (ctx) => {
      const { name, email, password } = await formFields(ctx, ['name', 'email', 'password']);
      const state = { name, email };
      if (!name.trim() || name.length > 80)
        return page(ctx, signupPage(context(ctx), { ...state, error: 'Please give a name of at most 80 characters.' }), 400);
      if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 200)
        return page(ctx, signupPage(context(ctx), { ...state, error: 'Please give a valid e-mail address.' }), 400);
      if (password.length < MIN_PASSWORD_LENGTH || password.length > 200) {
        return page(
          ctx,
          signupPage(context(ctx), { ...state, error: `The password needs ${MIN_PASSWORD_LENGTH} to 200 characters.` }),
          400,
        );
      }
      const user = await users.create(email, name.trim(), password);
      if (!user)
        return page(ctx, signupPage(context(ctx), { ...state, error: 'An account with this e-mail exists: log in instead.' }), 409);
      // Still anonymous: held until signIn identifies the user, then sent to their profile.
      ctx.people.set({ $name: user.name, plan: 'free' });
      signIn(ctx, user);
      ctx.track('Signed Up', { method: 'email' });
      ctx.status = 303;
      ctx.redirect('/whoami');
    },

    'GET /login': (ctx) => page(ctx, loginPage(context(ctx))),

    'POST /login': async (ctx) => {
      const { email, password } = await formFields(ctx, ['email', 'password']);
      const user = await users.verify(email, password);
      if (!user) return page(ctx, loginPage(context(ctx), { email, error: 'Unknown e-mail or wrong password.' }), 401);
      signIn(ctx, user);
      ctx.track('Logged In', { method: 'email' });
      ctx.status = 303;
      ctx.redirect('/whoami');
    },

    'POST /logout': (ctx) => {
      // Tracked while still signed in, so the event carries the user id; then the device id rotates.
      if (ctx.state.user) ctx.track('Logged Out');
      resetUser(ctx);
      ctx.state.user = undefined;
      session.end(ctx.res, ctx.secure);
      ctx.status = 303;
      ctx.redirect('/');
    },

    'GET /whoami': (ctx) => {
      const identity = identityOf(ctx);
      const deviceId = identity?.deviceId;
      page(
        ctx,
        whoamiPage(context(ctx), {
          deviceId,
          deviceIdIsNew: deviceId !== undefined && !(ctx.headers.cookie ?? '').includes(deviceId),
          userId: identity?.userId,
        }),
      );
    },
  };

  // A route table instead of a router package: the example needs six routes and nothing else.
  app.use(async (ctx) => {
    const route = routes[`${ctx.method === 'HEAD' ? 'GET' : ctx.method} ${ctx.path}`];
    if (route) await route(ctx);
    // Otherwise Koa answers 404.
  });

  return { app, tracker: middleware.tracker, users, session };
}

/**
 * String fields of an urlencoded form body of at most FORM_LIMIT bytes; anything missing or
 * repeated becomes ''. What koa-bodyparser would do, in a few lines, so the example needs no
 * other package.
 */
async function formFields<K extends string>(ctx: Context, names: readonly K[]): Promise<Record<K, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) ctx.throw(415, 'expected an urlencoded form');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > FORM_LIMIT) ctx.throw(413, 'form too large');
    chunks.push(chunk);
  }
  const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  return Object.fromEntries(
    names.map((name) => {
      const values = form.getAll(name);
      return [name, values.length === 1 ? values[0]! : ''];
    }),
  ) as Record<K, string>;
}
