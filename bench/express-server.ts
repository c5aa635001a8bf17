// Child process of bench/express.ts: one Express 5 hello-world variant on 127.0.0.1, driven by the
// parent over IPC. Variants:
//   bare      no middleware
//   floor     the least a hand-written integration must do per request (bench/floor.ts): read the
//             device cookie, issue one (same attributes as idstitch) when missing, build the event,
//             stringify it, and throw it away (nothing is sent)
//   idstitch  app.use(tracking(...)) and req.track(...), delivering to a strict /import sink
//             running in this same process (so its cost lands on the same core, as a caveat)
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import { tracking } from 'idstitch/express';
import { serveParent, type Message } from './child.js';
import { deviceIdFor, eventJson } from './floor.js';
import { startSink, type Sink } from './sink.js';

const VARIANTS = ['bare', 'floor', 'idstitch'] as const;
type Variant = (typeof VARIANTS)[number];

/** The hello-world body every variant answers with. */
const HELLO = { hello: 'world' };
/** No run lasts longer than this, whatever the parent does (ms). */
const LIFETIME_MS = 10 * 60_000;

/** Keeps the floor's JSON from being optimised away. */
let discardedBytes = 0;

function floorRoute(req: Request, res: Response): void {
  const deviceId = deviceIdFor(req.headers.cookie, res);
  discardedBytes += eventJson('Viewed Home', deviceId, undefined, { path: '/' }).length;
  res.json(HELLO);
}

async function main(): Promise<void> {
  const variant = process.argv[2] as Variant;
  if (!VARIANTS.includes(variant)) throw new Error(`variant must be one of ${VARIANTS.join(', ')}, got ${variant}`);

  let routeHits = 0;
  let sink: Sink | undefined;
  let middleware: ReturnType<typeof tracking> | undefined;
  const app = express();
  if (variant === 'idstitch') {
    sink = await startSink();
    middleware = tracking({ apiHost: sink.url, token: 'bench', ...(process.env.IDSTITCH_BENCH_OPTIONS ? JSON.parse(process.env.IDSTITCH_BENCH_OPTIONS) : {}) });
    app.use(middleware);
    app.get('/', (req, res) => {
      routeHits++;
      req.track('Viewed Home', { path: '/' });
      res.json(HELLO);
    });
  } else if (variant === 'floor') {
    app.get('/', (req, res) => {
      routeHits++;
      floorRoute(req, res);
    });
  } else {
    app.get('/', (_req, res) => {
      routeHits++;
      res.json(HELLO);
    });
  }

  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.keepAliveTimeout = 30_000;

  let windowStart = { cpu: process.cpuUsage(), at: performance.now(), sinkBusyMs: 0 };
  serveParent(async (message: Message) => {
    switch (message.type) {
      case 'mark': {
        // Start of the measured window: CPU, wall time and sink time are taken from here.
        windowStart = { cpu: process.cpuUsage(), at: performance.now(), sinkBusyMs: sink?.counts().busyMs ?? 0 };
        return undefined;
      }
      case 'window': {
        const cpu = process.cpuUsage(windowStart.cpu);
        const wallMs = performance.now() - windowStart.at;
        return {
          type: 'window',
          wallMs,
          cpuShare: (cpu.user + cpu.system) / 1000 / wallMs,
          sinkBusyMs: (sink?.counts().busyMs ?? 0) - windowStart.sinkBusyMs,
          rss: process.memoryUsage().rss,
          maxRss: process.resourceUsage().maxRSS * 1024,
          routeHits,
        };
      }
      case 'flush': {
        // Between windows: deliver what this window tracked, so its cost stays out of the next variant's window.
        await middleware?.tracker.flush();
        return undefined;
      }
      case 'drain': {
        // Everything tracked so far is delivered or given up, within a bounded deadline.
        const drainStart = performance.now();
        await middleware?.tracker.shutdown({ timeoutMs: 20_000 });
        return {
          type: 'drain',
          drainMs: performance.now() - drainStart,
          routeHits,
          discardedBytes,
          sink: sink?.counts(),
          tracker: middleware?.tracker.stats(),
        };
      }
      default:
        throw new Error(`unknown message ${message.type}`);
    }
  }, LIFETIME_MS);
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port, pid: process.pid });
}

main().catch((error: unknown) => {
  process.stderr.write(`express-server: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
