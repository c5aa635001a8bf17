// idstitch/nest: a NestJS module over the Express and Fastify adapters, on either Nest platform.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createParamDecorator,
  Global,
  Inject,
  Module,
  type DynamicModule,
  type ExecutionContext,
  type MiddlewareConsumer,
  type ModuleMetadata,
  type NestModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { warnNotMounted } from '../src/adapter.js';
import { ConfigError } from '../src/errors.js';
import type { TrackerOptions } from '../src/options.js';
import type { People } from '../src/people.js';
import { createTracker, isTracker, Tracker } from '../src/tracker.js';
import * as express from './express.js';
import * as fastify from './fastify.js';

export { createTracker, Tracker, type People, type TrackerOptions };

/** What `@Tracking()` gives a handler: the request's identity and what it can do with it. Never throws. */
export interface RequestTracking {
  /** Tracks an event with the request's `$device_id` (and `$user_id` when signed in). */
  track(event: string, properties?: Record<string, unknown>): void;
  /** On signup or login: links this browser's device id to the user (`identifyUser`). */
  identify(userId?: string | number): string | undefined;
  /** On logout: a new device id for this browser, and no user for the rest of the request (`resetUser`). */
  reset(): void;
  /** Profile updates for the request's user. */
  readonly people: People | undefined;
  /** Super properties for the rest of this request's events. */
  register(properties: Record<string, unknown>): void;
  readonly deviceId: string | undefined;
  readonly userId: string | undefined;
}

/** Nest's request object: Express's request, or a Fastify request. */
type NestRequest = IncomingMessage | FastifyRequest;

/** The options provider; `forRootAsync` fills it from a factory. */
const OPTIONS = Symbol.for('idstitch.nest.options');

export interface IdstitchAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory: (...args: never[]) => TrackerOptions<NestRequest> | Tracker | Promise<TrackerOptions<NestRequest> | Tracker>;
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
}

/** A tracker made here is shut down with the app; one the app passed in is the app's to shut down. */
const OWNED = new WeakSet<Tracker>();

function trackerFrom(options: TrackerOptions<NestRequest> | Tracker | undefined): Tracker {
  if (isTracker(options)) return options;
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ConfigError(
      'options',
      `must be an object of tracker options or a Tracker, got ${options === null ? 'null' : typeof options}`,
    );
  }
  // @nestjs/passport puts the user on the request: its `id`, else its `sub` (a JWT's claims).
  const tracker = createTracker({ getUserId: nestUserId, ...options } as TrackerOptions);
  OWNED.add(tracker);
  return tracker;
}

/**
 * `IdstitchModule.forRoot({ token })` (or `forRootAsync`): a global module that gives every
 * route of the app a device id cookie and makes the `Tracker` injectable (`app.get(Tracker)`).
 * On the Express platform it is Express middleware; on Fastify, idstitch's Fastify hooks on the
 * app's instance. `app.close()` delivers what is queued.
 */
export class IdstitchModule implements NestModule, OnApplicationShutdown {
  readonly #tracker: Tracker;
  readonly #adapterHost: HttpAdapterHost;

  constructor(tracker: Tracker, adapterHost: HttpAdapterHost) {
    this.#tracker = tracker;
    this.#adapterHost = adapterHost;
  }

  static forRoot(options?: TrackerOptions<NestRequest> | Tracker): DynamicModule {
    return IdstitchModule.#module([{ provide: OPTIONS, useValue: options }]);
  }

  static forRootAsync(options: IdstitchAsyncOptions): DynamicModule {
    return IdstitchModule.#module([{ provide: OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }], options.imports);
  }

  static #module(providers: NonNullable<ModuleMetadata['providers']>, imports: ModuleMetadata['imports'] = []): DynamicModule {
    return {
      module: IdstitchModule,
      imports,
      providers: [...providers, { provide: Tracker, useFactory: trackerFrom, inject: [OPTIONS] }],
      exports: [Tracker],
    };
  }

  async configure(consumer: MiddlewareConsumer): Promise<void> {
    const adapter = this.#adapterHost.httpAdapter;
    if (adapter.getType() === 'fastify') {
      // Fastify's own hooks, so the user id comes from the Fastify request (where passport puts it).
      await fastify.tracking(adapter.getInstance<FastifyInstance>(), { tracker: this.#tracker });
      return;
    }
    const middleware = express.tracking(this.#tracker);
    consumer.apply((req: IncomingMessage, res: ServerResponse, next: () => void) => middleware(req, res, next)).forRoutes('{*path}');
  }

  async onApplicationShutdown(): Promise<void> {
    await (OWNED.has(this.#tracker) ? this.#tracker.shutdown() : this.#tracker.flush());
  }
}
// Decorators applied as functions: this file compiles without experimentalDecorators.
Inject(Tracker)(IdstitchModule, undefined, 0);
Inject(HttpAdapterHost)(IdstitchModule, undefined, 1);
Global()(IdstitchModule);
Module({})(IdstitchModule);

/** `@Tracking() t: RequestTracking` in a controller method: the request's tracking. */
export const Tracking: () => ParameterDecorator = createParamDecorator((_data: unknown, context: ExecutionContext) =>
  requestTracking(context.switchToHttp().getRequest<NestRequest>()),
);

/** What the Express and the Fastify adapters both export, over the request each was given. */
interface AdapterFunctions {
  identifyUser(request: NestRequest, userId?: string | number): string | undefined;
  resetUser(request: NestRequest): void;
  identityOf(request: NestRequest): { deviceId: string; userId: string | undefined } | undefined;
}

/** Either adapter puts `track`, `people` and `register` on the request it tracks. */
type TrackedRequest = {
  track?: (event: string, properties?: Record<string, unknown>) => void;
  people?: People;
  register?: (properties: Record<string, unknown>) => void;
};

function requestTracking(request: NestRequest): RequestTracking {
  const on = (isFastifyRequest(request) ? fastify : express) as unknown as AdapterFunctions;
  const tracked = request as TrackedRequest;
  return {
    track: (event, properties) => (tracked.track ?? notMounted)(event, properties),
    identify: (userId) => on.identifyUser(request, userId),
    reset: () => on.resetUser(request),
    get people() {
      return tracked.people;
    },
    register: (properties) => tracked.register?.(properties),
    get deviceId() {
      return on.identityOf(request)?.deviceId;
    },
    get userId() {
      return on.identityOf(request)?.userId;
    },
  };
}

/** A Fastify request wraps Node's (`raw`); Express's request is Node's own. */
function isFastifyRequest(request: NestRequest): request is FastifyRequest {
  return 'raw' in request && typeof request.raw === 'object' && request.raw !== null;
}

/** `@Tracking()` on a request idstitch never saw (IdstitchModule not imported): said once, never thrown. */
function notMounted(): void {
  warnNotMounted('@Tracking() track', ' (import IdstitchModule.forRoot() in the root module)');
}

function nestUserId(request: unknown): unknown {
  const user = (request as { user?: unknown }).user;
  if (typeof user === 'string' || typeof user === 'number') return user;
  if (user === null || typeof user !== 'object') return undefined;
  const { id, sub } = user as { id?: unknown; sub?: unknown };
  return id !== undefined && id !== null ? id : sub;
}
