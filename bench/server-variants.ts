// What every hello-world server variant does, whatever the framework (bench/express-server.ts,
// bench/koa-server.ts), and the IPC loop the parent (bench/request-cost.ts) drives them with.
//   bare      no tracking
//   floor     the least a hand-written integration does per request (bench/floor.ts): read or issue
//             the device cookie, build and stringify the event, and throw it away (nothing is sent)
//   idstitch  the framework's tracking() middleware and req.track / ctx.track
//   mixpanel, posthog, segment   the floor's cookie handling, then one event through that SDK
//             (bench/peers.ts): the same work as idstitch, done with the SDK people use today
// Every variant that sends, sends to the parent's sink process, each on its own route.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TrackerOptions } from 'idstitch';
import { serveParent, type Message } from './child.js';
import { deviceIdFor, eventJson, type HeaderSink } from './floor.js';
import { createPeer, PEER_ROUTES, PEERS, type Peer } from './peers.js';
import type { RouteName } from './sink-routes.js';

export const VARIANTS = ['bare', 'floor', 'idstitch', ...PEERS] as const;
export type Variant = (typeof VARIANTS)[number];

/** Where each sending variant's events land at the sink. */
export const VARIANT_ROUTES: Partial<Record<Variant, RouteName>> = { idstitch: 'import', ...PEER_ROUTES };

/** The hello-world body every variant answers with. */
export const HELLO = { hello: 'world' };
/** The event every tracking variant sends once per request. */
export const EVENT_NAME = 'Viewed Home';
/** No server outlives this, whatever the parent does (ms). */
const LIFETIME_MS = 15 * 60_000;
/** Bound on a variant's final drain (ms); what is still unsent then shows as lost. */
const DRAIN_MS = 20_000;
/**
 * How long the parent waits for a flush between windows (ms). A flush that takes longer goes on in
 * the background (the next flush and the drain wait for it): analytics-node's flush(), called while
 * batches are in flight, sits out its whole 10 s flush interval for the last one (bench/peers.ts),
 * and the run should not. What is left then is one partial batch, too little to disturb a window.
 */
const FLUSH_WAIT_MS = 1000;

/** `<variant> <sink url>` from the command line. */
export function serverArgs(argv: readonly string[] = process.argv.slice(2)): { variant: Variant; sinkUrl: string } {
  const [variant, sinkUrl] = argv;
  if (!VARIANTS.includes(variant as Variant)) throw new Error(`variant must be one of ${VARIANTS.join(', ')}, got ${variant}`);
  if (!sinkUrl) throw new Error('the sink URL is missing');
  return { variant: variant as Variant, sinkUrl };
}

/** idstitch's options in the benchmarks: the defaults, the sink as API host; IDSTITCH_BENCH_OPTIONS (JSON) to experiment. */
export function idstitchOptions(sinkUrl: string): TrackerOptions {
  return {
    apiHost: sinkUrl,
    token: 'bench',
    ...(process.env.IDSTITCH_BENCH_OPTIONS ? (JSON.parse(process.env.IDSTITCH_BENCH_OPTIONS) as TrackerOptions) : {}),
  };
}

/** What a sending variant exposes to the parent between windows and at the end. */
export interface Backend {
  /** Between windows: deliver what the last window tracked, so its cost stays out of the next one. */
  flush(): Promise<void>;
  /** At the end: everything delivered or given up, within `timeoutMs`; what the client reports about itself. */
  drain(timeoutMs: number): Promise<Record<string, unknown>>;
}

/** Per-request work of the variants that are not framework middleware: the floor and the peers. */
export interface RouteWork {
  (cookieHeader: string | undefined, res: HeaderSink): void;
  backend?: Backend;
}

/** Keeps the floor's JSON from being optimised away. */
let discardedBytes = 0;

export async function routeWork(variant: Exclude<Variant, 'idstitch'>, sinkUrl: string): Promise<RouteWork | undefined> {
  if (variant === 'bare') return undefined;
  if (variant === 'floor') {
    return (cookieHeader, res) => {
      const deviceId = deviceIdFor(cookieHeader, res);
      discardedBytes += eventJson(EVENT_NAME, deviceId, undefined, { path: '/' }).length;
    };
  }
  const peer = await createPeer(variant satisfies Peer, sinkUrl);
  const work: RouteWork = (cookieHeader, res) => {
    const deviceId = deviceIdFor(cookieHeader, res);
    peer.track({ name: EVENT_NAME, properties: { path: '/' }, identity: { deviceId } });
  };
  work.backend = {
    flush: () => peer.flush(DRAIN_MS),
    async drain(timeoutMs) {
      await peer.shutdown(timeoutMs);
      return { clientErrors: peer.errors(), clientErrorSamples: peer.errorSamples() };
    },
  };
  return work;
}

/** Waits until `server` listens, then answers the parent until it says exit. */
export async function serveVariant(server: Server, routeHits: () => number, backend: Backend | undefined): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    if (server.listening) resolve();
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // Longer than any window: autocannon's connections stay open from warm-up to the last round.
  server.keepAliveTimeout = 30_000;

  let windowStart = { cpu: process.cpuUsage(), at: performance.now() };
  /** The last flush asked for; flushes never overlap (analytics-node ignores an overlapping one). */
  let flushing: Promise<void> = Promise.resolve();
  /** A flush that rejected: none should (idstitch's never does, the peers' are wrapped), so the parent fails the run. */
  let flushFailure: string | undefined;
  serveParent(async (message: Message) => {
    switch (message.type) {
      case 'mark': {
        windowStart = { cpu: process.cpuUsage(), at: performance.now() };
        return undefined;
      }
      case 'window': {
        const cpu = process.cpuUsage(windowStart.cpu);
        const wallMs = performance.now() - windowStart.at;
        return {
          type: 'window',
          wallMs,
          cpuShare: (cpu.user + cpu.system) / 1000 / wallMs,
          rss: process.memoryUsage().rss,
          maxRss: process.resourceUsage().maxRSS * 1024,
          routeHits: routeHits(),
        };
      }
      case 'flush': {
        const started = performance.now();
        flushing = flushing
          .then(() => backend?.flush())
          .catch((error: unknown) => void (flushFailure ??= (error as Error)?.stack ?? String(error)));
        const late = await Promise.race([
          flushing.then(() => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(true), FLUSH_WAIT_MS).unref()),
        ]);
        return { type: 'flush', flushMs: performance.now() - started, late, failure: flushFailure };
      }
      case 'drain': {
        const started = performance.now();
        await flushing;
        const client = await backend?.drain(DRAIN_MS);
        return { type: 'drain', drainMs: performance.now() - started, routeHits: routeHits(), discardedBytes, client };
      }
      default:
        throw new Error(`unknown message ${message.type}`);
    }
  }, LIFETIME_MS);
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port, pid: process.pid });
}

/** A child's last words on stderr before exiting 1. */
export function dieWith(name: string): (error: unknown) => never {
  return (error) => {
    process.stderr.write(`${name}: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  };
}
