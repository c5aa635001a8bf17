// The NestJS example (Express platform): the same pages and flows as the Express one (tracked
// pages, sign-up, log-in, log-out, "who am I"), with idstitch/nest. Users, the signed session
// cookie and the pages are shared with examples/express; only the wiring below is Nest's.
//
//   const { app, tracker } = await createApp({ apiHost: 'http://127.0.0.1:7600', token: 'demo' });
//   await app.listen(3000);   // app.close() delivers what is queued
//
// examples/nest/start.ts runs it against the local collector (idstitch/collector).
import 'reflect-metadata';
import { Body, Controller, Get, Inject, Module, Post, Req, Res, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { IdstitchModule, Tracker, Tracking, type RequestTracking } from 'idstitch/nest';
import { exampleTrackerOptions, type ExampleApp as SharedExampleApp, type ExampleAppOptions } from '../express/app.js';
import { createSession, type Session } from '../express/session.js';
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

export type ExampleApp = SharedExampleApp<INestApplication>;

/** What the shared pages say about this app. */
const NEST: Framework = { name: 'NestJS', identityCall: '@Tracking() tracking', subpath: 'idstitch/nest', userSource: 'req.user.id' };

/** Providers of the example's own objects (explicit tokens: tsx does not emit parameter types). */
const USERS = 'users';
const SESSION = 'session';
const COLLECTOR_URL = 'collectorUrl';

type Form = Record<string, unknown>;
type AppRequest = Request & { user?: User };

/** A form field as a string; anything missing or repeated becomes ''. */
const field = (form: Form | undefined, name: string): string => (typeof form?.[name] === 'string' ? (form[name] as string) : '');

@Controller()
class PagesController {
  constructor(
    @Inject(USERS) private readonly users: UserStore,
    @Inject(SESSION) private readonly session: Session,
    @Inject(COLLECTOR_URL) private readonly collectorUrl: string | undefined,
  ) {}

  #context(req: AppRequest): PageContext {
    return { user: req.user, collectorUrl: this.collectorUrl, framework: NEST };
  }

  /** Signs the user in for this response and links this browser's device id to them. */
  #signIn(req: AppRequest, res: Response, tracking: RequestTracking, user: User): void {
    this.session.start(res, user.id, req.secure);
    req.user = user;
    tracking.identify(user.id);
  }

  @Get()
  home(@Req() req: AppRequest, @Res() res: Response, @Tracking() tracking: RequestTracking): void {
    tracking.track('Viewed Home', { path: '/' });
    res.type('html').send(homePage(this.#context(req)));
  }

  @Get('pricing')
  pricing(@Req() req: AppRequest, @Res() res: Response, @Tracking() tracking: RequestTracking): void {
    tracking.track('Viewed Pricing', { path: '/pricing' });
    res.type('html').send(pricingPage(this.#context(req)));
  }

  @Get('signup')
  signupForm(@Req() req: AppRequest, @Res() res: Response): void {
    res.type('html').send(signupPage(this.#context(req)));
  }

  @Post('signup')
  async signup(@Req() req: AppRequest, @Res() res: Response, @Body() form: Form, @Tracking() tracking: RequestTracking): Promise<void> {
    const [name, email, password] = [field(form, 'name'), field(form, 'email'), field(form, 'password')];
    const state = { name, email };
    const problem = signupProblem(name, email, password);
    if (problem)
      return void res
        .status(400)
        .type('html')
        .send(signupPage(this.#context(req), { ...state, error: problem }));
    const user = await this.users.create(email, name.trim(), password);
    if (!user) {
      const error = 'An account with this e-mail exists: log in instead.';
      return void res
        .status(409)
        .type('html')
        .send(signupPage(this.#context(req), { ...state, error }));
    }
    // Still anonymous: held until signIn identifies the user, then sent to their profile.
    tracking.people?.set({ $name: user.name, plan: 'free' });
    this.#signIn(req, res, tracking, user);
    tracking.track('Signed Up', { method: 'email' });
    res.redirect(303, '/whoami');
  }

  @Get('login')
  loginForm(@Req() req: AppRequest, @Res() res: Response): void {
    res.type('html').send(loginPage(this.#context(req)));
  }

  @Post('login')
  async login(@Req() req: AppRequest, @Res() res: Response, @Body() form: Form, @Tracking() tracking: RequestTracking): Promise<void> {
    const email = field(form, 'email');
    const user = await this.users.verify(email, field(form, 'password'));
    if (!user)
      return void res
        .status(401)
        .type('html')
        .send(loginPage(this.#context(req), { email, error: 'Unknown e-mail or wrong password.' }));
    this.#signIn(req, res, tracking, user);
    tracking.track('Logged In', { method: 'email' });
    res.redirect(303, '/whoami');
  }

  @Post('logout')
  logout(@Req() req: AppRequest, @Res() res: Response, @Tracking() tracking: RequestTracking): void {
    // Tracked while still signed in, so the event carries the user id; then the device id rotates.
    if (req.user) tracking.track('Logged Out');
    tracking.reset();
    req.user = undefined;
    this.session.end(res, req.secure);
    res.redirect(303, '/');
  }

  @Get('whoami')
  whoami(@Req() req: AppRequest, @Res() res: Response, @Tracking() tracking: RequestTracking): void {
    const deviceId = tracking.deviceId;
    res.type('html').send(
      whoamiPage(this.#context(req), {
        deviceId,
        deviceIdIsNew: deviceId !== undefined && !(req.headers.cookie ?? '').includes(deviceId),
        userId: tracking.userId,
      }),
    );
  }
}

export async function createApp(options: ExampleAppOptions = {}): Promise<ExampleApp> {
  const users = new UserStore();
  const session = createSession(options.sessionSecret);

  @Module({
    imports: [IdstitchModule.forRoot(exampleTrackerOptions(options))],
    controllers: [PagesController],
    providers: [
      { provide: USERS, useValue: users },
      { provide: SESSION, useValue: session },
      { provide: COLLECTOR_URL, useValue: options.collectorUrl },
    ],
  })
  class AppModule {}

  // Nest's own body parsers off: forms only, at most 10 kB (413 beyond), anything else 415.
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false, logger: ['error'] });
  app.disable('x-powered-by');
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.set(PAGE_HEADERS);
    if (req.method === 'POST' && req.headers['content-length'] !== '0' && !req.is('application/x-www-form-urlencoded')) {
      return void res.status(415).type('text').send('expected an urlencoded form');
    }
    // The session before idstitch (the module's middleware runs after app.use), so `req.user` is set
    // before it (or any route) asks for the user id.
    const userId = session.read(req);
    const user = userId === undefined ? undefined : users.byId(userId);
    if (user) (req as AppRequest).user = user;
    next();
  });
  app.use(express.urlencoded({ extended: false, limit: '10kb' }));
  await app.init();
  return { app, tracker: app.get(Tracker), users, session };
}
