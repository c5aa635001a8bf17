// The Express 5 example: tracked pages, sign-up, log-in, log-out and a "who am I" page, showing the
// three flows of Mixpanel's Identifying Users (Simplified) guide with idstitch on the server.
//
//   const { app, tracker } = createApp({ apiHost: 'http://127.0.0.1:7600', token: 'demo' });
//   app.listen(3000);   // … and on shutdown: await tracker.shutdown();
//
// examples/start.ts runs it against the local collector (idstitch/collector).
import { randomBytes } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { identifyUser, identityOf, resetUser, tracking, type Tracker, type TrackerOptions } from 'idstitch/express';
import { createSession, type Session } from './session.js';
import { MIN_PASSWORD_LENGTH, UserStore, type User } from './users.js';
import { homePage, loginPage, PAGE_HEADERS, pricingPage, signupPage, whoamiPage, type PageContext } from './views.js';

export interface ExampleAppOptions {
  /** Where events go, e.g. the local collector's URL. Default: Mixpanel (with `token`). */
  apiHost?: string;
  /** Mixpanel project token. Default `process.env.MIXPANEL_TOKEN`. */
  token?: string;
  /** Any other tracker options (`flushIntervalMs`, `onError`, …). */
  trackerOptions?: Omit<TrackerOptions, 'apiHost' | 'token'>;
  /** Signs the session cookie. Default: random per process (a restart signs everyone out). */
  sessionSecret?: string | Buffer;
  /**
   * idstitch's `cookie.secret`: signs the device cookie and lets an anonymous browser's profile
   * updates be held until sign-in. Default `IDSTITCH_COOKIE_SECRET`, else random per process (a
   * restart gives every browser a new device id). A real app takes a stable one from its secret store.
   */
  cookieSecret?: string;
  /** The local collector's base URL, linked from every page. */
  collectorUrl?: string;
}

/** An example as its `createApp` returns it; the Koa, Fastify and NestJS examples give their own `app`. */
export interface ExampleApp<App = Express> {
  app: App;
  /** Flush it in tests; shut it down when the server stops. */
  tracker: Tracker;
  users: UserStore;
  session: Session;
}

/** What the session middleware puts on the request; idstitch's default getUserId reads `req.user.id`. */
type AppRequest = Request & { user?: User };

/** The tracker options both examples (Express and Koa) use. */
export function exampleTrackerOptions(options: ExampleAppOptions): TrackerOptions {
  const secret = options.cookieSecret ?? process.env.IDSTITCH_COOKIE_SECRET ?? randomBytes(32).toString('base64url');
  return {
    ...options.trackerOptions,
    cookie: { secret, ...options.trackerOptions?.cookie },
    ...(options.apiHost ? { apiHost: options.apiHost } : {}),
    ...(options.token ? { token: options.token } : {}),
  };
}

export function createApp(options: ExampleAppOptions = {}): ExampleApp {
  const users = new UserStore();
  const session = createSession(options.sessionSecret);
  const middleware = tracking(exampleTrackerOptions(options));
  const app = express();
  const context = (req: Request): PageContext => ({ user: (req as AppRequest).user, collectorUrl: options.collectorUrl });

  app.disable('x-powered-by');
  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.set(PAGE_HEADERS);
    next();
  });
  // The session first, so `req.user` is set before idstitch (and any route) asks for the user id.
  app.use((req: Request, _res: Response, next: NextFunction) => {
    const userId = session.read(req);
    const user = userId === undefined ? undefined : users.byId(userId);
    if (user) (req as AppRequest).user = user;
    next();
  });
  app.use(middleware);
  const form = express.urlencoded({ extended: false, limit: '10kb' });

  app.get('/', (req, res) => {
    req.track('Viewed Home', { path: '/' });
    res.type('html').send(homePage(context(req)));
  });

  app.get('/pricing', (req, res) => {
    req.track('Viewed Pricing', { path: '/pricing' });
    res.type('html').send(pricingPage(context(req)));
  });

  app.get('/signup', (req, res) => {
    res.type('html').send(signupPage(context(req)));
  });

  app.post('/signup', form, async (req, res) => {
    const { name, email, password } = fields(req, ['name', 'email', 'password']);
    const state = { name, email };
    if (!name.trim() || name.length > 80)
      return void res
        .status(400)
        .type('html')
        .send(signupPage(context(req), { ...state, error: 'Please give a name of at most 80 characters.' }));
    if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 200)
      return void res
        .status(400)
        .type('html')
        .send(signupPage(context(req), { ...state, error: 'Please give a valid e-mail address.' }));
    if (password.length < MIN_PASSWORD_LENGTH || password.length > 200) {
      return void res
        .status(400)
        .type('html')
        .send(signupPage(context(req), { ...state, error: `The password needs ${MIN_PASSWORD_LENGTH} to 200 characters.` }));
    }
    const user = await users.create(email, name.trim(), password);
    if (!user)
      return void res
        .status(409)
        .type('html')
        .send(signupPage(context(req), { ...state, error: 'An account with this e-mail exists: log in instead.' }));
    // Still anonymous here: idstitch holds this profile update until signIn identifies the user, then
    // sends it to the user's profile (never a $device: one).
    req.people.set({ $name: user.name, plan: 'free' });
    signIn(req, res, user);
    req.track('Signed Up', { method: 'email' });
    res.redirect(303, '/whoami');
  });

  app.get('/login', (req, res) => {
    res.type('html').send(loginPage(context(req)));
  });

  app.post('/login', form, async (req, res) => {
    const { email, password } = fields(req, ['email', 'password']);
    const user = await users.verify(email, password);
    if (!user)
      return void res
        .status(401)
        .type('html')
        .send(loginPage(context(req), { email, error: 'Unknown e-mail or wrong password.' }));
    signIn(req, res, user);
    req.track('Logged In', { method: 'email' });
    res.redirect(303, '/whoami');
  });

  app.post('/logout', (req, res) => {
    // Tracked while still signed in, so the event carries the user id; then the device id rotates.
    if ((req as AppRequest).user) req.track('Logged Out');
    resetUser(req);
    (req as AppRequest).user = undefined;
    session.end(res, req.secure);
    res.redirect(303, '/');
  });

  app.get('/whoami', (req, res) => {
    const identity = identityOf(req);
    const deviceId = identity?.deviceId;
    res.type('html').send(
      whoamiPage(context(req), {
        deviceId,
        deviceIdIsNew: deviceId !== undefined && !(req.headers.cookie ?? '').includes(deviceId),
        userId: identity?.userId,
      }),
    );
  });

  /** Signs the user in for this response and links this browser's device id to them. */
  function signIn(req: Request, res: Response, user: User): void {
    session.start(res, user.id, req.secure);
    (req as AppRequest).user = user;
    identifyUser(req, user.id);
  }

  return { app, tracker: middleware.tracker, users, session };
}

/** String fields of an urlencoded form; anything missing or repeated becomes ''. */
function fields<K extends string>(req: Request, names: readonly K[]): Record<K, string> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  return Object.fromEntries(names.map((name) => [name, typeof body[name] === 'string' ? body[name] : ''])) as Record<K, string>;
}
