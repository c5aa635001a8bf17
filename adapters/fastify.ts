// idstitch/fastify: the plugin for Fastify 5.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { attachScope, coreOf, requestFunctions, SCOPE, scopeOn } from '../src/adapter.js';
import { ConfigError, IdstitchError } from '../src/errors.js';
import type { TrackerOptions } from '../src/options.js';
import type { People } from '../src/people.js';
import { NodeRequestContext } from '../src/request-context.js';
import { createTracker, isTracker, type Tracker } from '../src/tracker.js';

export { createTracker, type People, type Tracker, type TrackerOptions };

/** Tracks an event with the request's `$device_id` (and `$user_id` when signed in). Never throws. */
export type TrackFunction = (event: string, properties?: Record<string, unknown>) => void;

declare module 'fastify' {
  // Fastify's documented way to type decorators: importing idstitch/fastify types them everywhere.
  interface FastifyRequest {
    /** Added by idstitch's `tracking` plugin. */
    track: TrackFunction;
    /** Profile updates for the request's user (held in a cookie until sign-in while anonymous). Added by `tracking`. */
    people: People;
    /** Super properties for the rest of this request's events. Added by `tracking`. */
    register: (properties: Record<string, unknown>) => void;
  }
  interface FastifyInstance {
    /** The tracker behind idstitch's `tracking` plugin: `flush()`, `shutdown()`, `stats()`. */
    idstitch: Tracker;
  }
}

/** The plugin's options: the tracker's, or `{ tracker }` alone to share one tracker between apps. */
export interface FastifyTrackingOptions extends TrackerOptions<FastifyRequest> {
  tracker?: Tracker;
}

/** Options Fastify's `register` itself reads and passes along to every plugin. */
const REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers'];

/**
 * The Fastify plugin: `await app.register(tracking, { token })` gives each browser a device id
 * cookie and each request `request.track`, `request.people` and `request.register`, in every
 * route of the app (the plugin is not encapsulated, as `fastify-plugin` would make it).
 * `app.idstitch` is the tracker; `app.close()` delivers what is queued. The user id defaults to
 * `request.user.id`, then `request.user.sub` (`@fastify/passport`, `@fastify/jwt`).
 */
export async function tracking(fastify: FastifyInstance, options: FastifyTrackingOptions = {}): Promise<void> {
  if (fastify.hasDecorator('idstitch')) {
    throw new ConfigError('tracking', 'is registered twice on this app (or on it and a parent): register it once, on the root');
  }
  const { tracker, owned } = trackerFrom(options);
  const core = coreOf(tracker);

  fastify.decorate('idstitch', tracker);
  // Declared up front, as Fastify asks, so every request keeps one shape.
  fastify.decorateRequest('track', null as unknown as TrackFunction);
  fastify.decorateRequest(SCOPE as unknown as string, null);
  fastify.decorateRequest('people', {
    getter(this: FastifyRequest) {
      return scopeOn(this)?.people as People;
    },
  });
  fastify.decorateRequest('register', {
    getter(this: FastifyRequest) {
      return scopeOn(this)?.register as (properties: Record<string, unknown>) => void;
    },
  });

  fastify.addHook('onRequest', (request, reply, done) => {
    try {
      const scope = core.scope(new FastifyRequestContext(request, reply), { req: request, defaultGetUserId: fastifyUserId });
      attachScope(request, scope);
      request.track = scope.track;
    } catch (error) {
      // Tracking must never fail the request it rides on.
      core.reporter.report(
        new IdstitchError('IDSTITCH_INTERNAL', `idstitch could not attach to the request: ${(error as Error)?.message}`, { cause: error }),
      );
      request.track = () => undefined;
    }
    done();
  });

  // A tracker the app passed in belongs to the app, which shuts it down; this one's queue is delivered.
  fastify.addHook('onClose', async () => {
    await (owned ? tracker.shutdown() : tracker.flush());
  });
}

// What fastify-plugin sets: the plugin decorates the app it is registered on, not a child context.
Object.assign(tracking, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'idstitch',
  [Symbol.for('plugin-meta')]: { name: 'idstitch', fastify: '5.x' },
});

function trackerFrom(options: FastifyTrackingOptions): { tracker: Tracker; owned: boolean } {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError('options', `must be an object of tracker options, got ${options === null ? 'null' : typeof options}`);
  }
  const given = (options as { tracker?: unknown }).tracker;
  if (given !== undefined) {
    if (!isTracker(given)) throw new ConfigError('tracker', 'must be a Tracker made by createTracker()');
    const others = Object.keys(options).filter((name) => name !== 'tracker' && !REGISTER_OPTIONS.includes(name));
    if (others.length > 0) {
      throw new ConfigError(
        'tracker',
        `comes with its own options: pass either { tracker } or options, not both (got ${others.join(', ')})`,
      );
    }
    return { tracker: given, owned: false };
  }
  const own = { ...(options as Record<string, unknown>) };
  for (const name of REGISTER_OPTIONS) delete own[name];
  return { tracker: createTracker(own as TrackerOptions<FastifyRequest>), owned: true };
}

const functions = requestFunctions<FastifyRequest>('request');

/**
 * On signup or login: links this browser's device id to the user. Sends one event carrying both
 * ids (Mixpanel merges them, retroactively); later events of the request carry the user id.
 * `userId` defaults to `getUserId(request)` (Fastify: `request.user.id`, then `request.user.sub`).
 * Returns the linked user id, or undefined when there was none (reported to `onError`).
 */
export const identifyUser: (request: FastifyRequest, userId?: string | number) => string | undefined = functions.identifyUser;

/** On logout: a new device id for this browser (the SDK's `.reset()`), and no user id for the rest of the request. */
export const resetUser: (request: FastifyRequest) => void = functions.resetUser;

/** The request's identity: `{ deviceId, userId }`, or undefined when the plugin did not run. */
export const identityOf: (request: FastifyRequest) => { deviceId: string; userId: string | undefined } | undefined = functions.identityOf;

/**
 * `RequestContext` over a Fastify request: Node's response underneath (Fastify sends its reply
 * headers through `writeHead`, so the cookie joins them whether the reply is sent, an error page,
 * a stream or hijacked), and Fastify's `trustProxy`-aware view of the client.
 */
class FastifyRequestContext extends NodeRequestContext {
  readonly #request: FastifyRequest;

  constructor(request: FastifyRequest, reply: FastifyReply) {
    super(request.raw, reply.raw);
    this.#request = request;
  }

  /** Protocol and host follow `trustProxy` (X-Forwarded-Proto, X-Forwarded-Host). */
  override requestUrl(): string | undefined {
    const { host } = this.#request;
    return host ? `${this.#request.protocol}://${host}${this.#request.url}` : undefined;
  }

  /** `request.ip`: the socket's peer, or with `trustProxy` the nearest untrusted `X-Forwarded-For` entry. */
  override clientIp(): string | undefined {
    return this.#request.ip || undefined;
  }

  /** `request.protocol` trusts `X-Forwarded-Proto` only under `trustProxy`. */
  override isSecure(): boolean {
    return this.#request.protocol === 'https';
  }
}

/** `@fastify/passport` puts the user on `request.user` (its `id`); `@fastify/jwt` puts the token's claims there (`sub`). */
function fastifyUserId(request: unknown): unknown {
  const user = (request as { user?: unknown }).user;
  if (typeof user === 'string' || typeof user === 'number') return user;
  if (user === null || typeof user !== 'object') return undefined;
  const { id, sub } = user as { id?: unknown; sub?: unknown };
  return id !== undefined && id !== null ? id : sub;
}
