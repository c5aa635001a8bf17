// The Fastify example: the same pages and flows as the Express one (tracked pages, sign-up, log-in,
// log-out, "who am I"), with idstitch/fastify. Users, the signed session cookie and the pages are
// shared with examples/express; only the wiring below is Fastify's.
//
//   const { app, tracker } = await createApp({ apiHost: 'http://127.0.0.1:7600', token: 'demo' });
//   await app.listen({ port: 3000 });   // app.close() delivers what is queued
//
// examples/fastify/start.ts runs it against the local collector (idstitch/collector).
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { identifyUser, identityOf, resetUser, tracking } from 'idstitch/fastify';
import { exampleTrackerOptions, type ExampleApp as SharedExampleApp, type ExampleAppOptions } from '../express/app.js';
import { createSession } from '../express/session.js';
import { signupProblem, UserStore, type User } from '../express/users.js';
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

export type ExampleApp = SharedExampleApp<FastifyInstance>;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set from the session cookie; idstitch's default getUserId reads `request.user.id`. */
    user: User | undefined;
  }
}

/** What the shared pages say about this app. */
const FASTIFY: Framework = {
  name: 'Fastify',
  identityCall: 'identityOf(request)',
  subpath: 'idstitch/fastify',
  userSource: 'request.user.id',
};

/** The largest form body accepted, in bytes (the Express example's `limit: '10kb'`). */
const FORM_LIMIT = 10 * 1024;

type Form = Record<string, string | undefined>;

export async function createApp(options: ExampleAppOptions = {}): Promise<ExampleApp> {
  const users = new UserStore();
  const session = createSession(options.sessionSecret);
  const app = Fastify();
  const context = (request: FastifyRequest): PageContext => ({
    user: request.user,
    collectorUrl: options.collectorUrl,
    framework: FASTIFY,
  });
  const page = (reply: FastifyReply, html: string, status = 200): FastifyReply => reply.code(status).type('text/html').send(html);

  // Forms only: without a JSON parser Fastify answers other bodies 415, and 413 beyond the limit.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_request, body, done) => {
    // A field missing or repeated becomes undefined.
    const form = new URLSearchParams(body as string);
    const fields: Form = {};
    for (const name of new Set(form.keys())) fields[name] = form.getAll(name).length === 1 ? form.get(name)! : undefined;
    done(null, fields);
  });

  app.decorateRequest('user', undefined);
  app.addHook('onRequest', async (request, reply) => {
    reply.headers(PAGE_HEADERS);
    // The session before idstitch, so `request.user` is set before it (or any route) asks for the user id.
    const userId = session.read(request.raw);
    request.user = userId === undefined ? undefined : users.byId(userId);
  });
  await app.register(tracking, exampleTrackerOptions(options));

  /** Signs the user in for this response and links this browser's device id to them. */
  function signIn(request: FastifyRequest, reply: FastifyReply, user: User): void {
    session.start(reply.raw, user.id, request.protocol === 'https');
    request.user = user;
    identifyUser(request, user.id);
  }

  app.get('/', async (request, reply) => {
    request.track('Viewed Home', { path: '/' });
    return page(reply, homePage(context(request)));
  });

  app.get('/pricing', async (request, reply) => {
    request.track('Viewed Pricing', { path: '/pricing' });
    return page(reply, pricingPage(context(request)));
  });

  app.get('/signup', async (request, reply) => page(reply, signupPage(context(request))));

  app.post<{ Body: Form }>('/signup', async (request, reply) => {
    const { name = '', email = '', password = '' } = request.body ?? {};
    const state = { name, email };
    const problem = signupProblem(name, email, password);
    if (problem) return page(reply, signupPage(context(request), { ...state, error: problem }), 400);
    const user = await users.create(email, name.trim(), password);
    if (!user)
      return page(reply, signupPage(context(request), { ...state, error: 'An account with this e-mail exists: log in instead.' }), 409);
    // Still anonymous: held until signIn identifies the user, then sent to their profile.
    request.people.set({ $name: user.name, plan: 'free' });
    signIn(request, reply, user);
    request.track('Signed Up', { method: 'email' });
    return reply.redirect('/whoami', 303);
  });

  app.get('/login', async (request, reply) => page(reply, loginPage(context(request))));

  app.post<{ Body: Form }>('/login', async (request, reply) => {
    const { email = '', password = '' } = request.body ?? {};
    const user = await users.verify(email, password);
    if (!user) return page(reply, loginPage(context(request), { email, error: 'Unknown e-mail or wrong password.' }), 401);
    signIn(request, reply, user);
    request.track('Logged In', { method: 'email' });
    return reply.redirect('/whoami', 303);
  });

  app.post('/logout', async (request, reply) => {
    // Tracked while still signed in, so the event carries the user id; then the device id rotates.
    if (request.user) request.track('Logged Out');
    resetUser(request);
    request.user = undefined;
    session.end(reply.raw, request.protocol === 'https');
    return reply.redirect('/', 303);
  });

  app.get('/whoami', async (request, reply) => {
    const identity = identityOf(request);
    const deviceId = identity?.deviceId;
    return page(
      reply,
      whoamiPage(context(request), {
        deviceId,
        deviceIdIsNew: deviceId !== undefined && !(request.headers.cookie ?? '').includes(deviceId),
        userId: identity?.userId,
      }),
    );
  });

  await app.ready();
  return { app, tracker: app.idstitch, users, session };
}
