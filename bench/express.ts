// Express 5 hello-world under autocannon: what idstitch costs a real server, as ratios against a
// bare app and against a hand-written "floor" (bench/floor.ts) measured in the same run.
//
//   tsx bench/express.ts [--smoke] [--json <path>]
//
// Each variant's server is a child process pinned to core 0 (bench/express-server.ts); autocannon
// runs here, pinned to core 1. The three servers live for the whole run and are warmed once; then
// short windows alternate between them, in an order that rotates every round, so drift on a shared
// machine spreads over all of them. 50 connections; 1 request in 10 is a new visitor (no cookie),
// the others send a device cookie an idstitch server issued. Ratios are taken within a round.
// idstitch's events go to a strict /import sink inside its server process; after the last round
// the tracker is shut down and the events received are compared with the requests served.
// Nothing here asserts a speed; the exit code reflects correctness checks only.
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { ask, canPin, nextMessage, pinSelf, spawnTs, stopChild, type Message } from './child.js';
import { num, parseFlags, percent, table, times, writeJson, mib } from './report.js';
import { median, ratio, rotate, summarize, type Summary } from './stats.js';
import type { SinkCounts } from './sink.js';
import type { TrackerStats } from 'idstitch';

const VARIANTS = ['bare', 'floor', 'idstitch'] as const;
type Variant = (typeof VARIANTS)[number];

const SERVER = new URL('./express-server.ts', import.meta.url).pathname;
const CONNECTIONS = 50;
const NEW_VISITOR_EVERY = 10;
/** Cookies collected from a real idstitch server before the load starts. */
const COOKIE_POOL_SIZE = 30;
/** What idstitch (and so the floor) must answer a new visitor with. */
const EXPECTED_COOKIE = /^idstitch_device=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}; Max-Age=34560000; Path=\/; HttpOnly; SameSite=Lax$/;

interface Settings {
  /** Rounds; each measures every variant once, in an order that rotates per round. */
  repetitions: number;
  /** Warm-up per server before the first round (s): JIT, pools and the first batches. */
  warmupSeconds: number;
  /** One measured window (s). */
  durationSeconds: number;
}

const FULL: Settings = { repetitions: 8, warmupSeconds: 4, durationSeconds: 5 };
const SMOKE: Settings = { repetitions: 1, warmupSeconds: 1, durationSeconds: 3 };

interface WindowReport extends Message {
  wallMs: number;
  cpuShare: number;
  sinkBusyMs: number;
  rss: number;
  maxRss: number;
  routeHits: number;
}

interface DrainReport extends Message {
  drainMs: number;
  routeHits: number;
  sink?: SinkCounts;
  tracker?: TrackerStats;
}

export interface VariantRun {
  variant: Variant;
  repetition: number;
  /** Position in this repetition's order (0 = first). */
  position: number;
  reqPerSec: number;
  /** 2xx responses in the measured window. */
  responses: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** CPU time of the server process (all threads) per wall second of the window; 1.0 = one core busy. */
  serverCpu: number;
  /** Server CPU time (all threads) per response, in µs: steadier than req/s when neighbours take the core. */
  cpuMicrosPerRequest: number;
  /** CPU share of this process (autocannon): near 1.0 would mean the load generator is the bottleneck. */
  loadGeneratorCpu: number;
  rssBytes: number;
  /** Peak RSS of the server process so far. */
  maxRssBytes: number;
  /** Share of the window the in-process sink spent decompressing and parsing (idstitch only). */
  sinkShare: number;
}

export interface VariantTotals {
  /** Requests the route handled in the server's life: probes, warm-up and every window. */
  served: number;
  /** idstitch only: events the sink imported once the tracker was shut down (drained). */
  received?: number;
  lost?: number;
  drainMs?: number;
  batches?: number;
  sinkBytes?: number;
  tracker?: TrackerStats;
}

export interface ExpressBenchResult {
  settings: Settings & { connections: number; newVisitorEvery: number; pinned: boolean };
  runs: VariantRun[];
  totals: Record<Variant, VariantTotals>;
  summary: Record<Variant, {
    reqPerSec: Summary;
    /** Per-repetition ratio to bare, then to floor (same repetition), summarised. */
    toBare: Summary;
    toFloor: Summary;
    latencyP50Ms: number;
    latencyP99Ms: number;
    rssBytes: number;
    maxRssBytes: number;
    serverCpu: number;
    cpuMicrosPerRequest: number;
    /** Per-round CPU µs per request ÷ the floor's, summarised (> 1: more CPU than the floor). */
    cpuToFloor: Summary;
    loadGeneratorCpu: number;
  }>;
  /** idstitch ÷ floor with the in-process sink's share of the server core given back (an estimate). */
  idstitchToFloorWithoutSink: Summary;
  sinkShare: number;
  checks: string[];
}

interface Server {
  variant: Variant;
  child: ReturnType<typeof spawnTs>['child'];
  url: string;
  pinned: boolean;
}

/** Starts one server variant and waits until it listens. */
async function startServer(variant: Variant): Promise<Server> {
  const { child, pinned } = spawnTs(SERVER, [variant], { core: 0 });
  const ready = await nextMessage<Message & { port: number }>(child, 'ready', 30_000);
  return { variant, child, url: `http://127.0.0.1:${ready.port}`, pinned };
}

/** GETs `/` `count` times without a cookie; returns each response's Set-Cookie lines and Cache-Control. */
async function probeNewVisitors(url: string, count: number): Promise<Array<{ setCookie: string[]; cacheControl: string | null; status: number }>> {
  const out = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(url + '/', { signal: AbortSignal.timeout(5000) });
    await response.arrayBuffer();
    out.push({ setCookie: response.headers.getSetCookie(), cacheControl: response.headers.get('cache-control'), status: response.status });
  }
  return out;
}

function cookieHeader(deviceId: string): string {
  // A realistic header: the device cookie among others, so the parse has something to skip.
  return `_ga=GA1.1.1234567890.1700000000; theme=dark; idstitch_device=${deviceId}`;
}

/** Collects device ids from the idstitch server: the returning visitors' cookies. */
async function collectCookies(server: Server, checks: string[]): Promise<string[]> {
  const probes = await probeNewVisitors(server.url, COOKIE_POOL_SIZE);
  const ids = probes.map((probe) => probe.setCookie[0]?.split(';')[0]?.slice('idstitch_device='.length)).filter((id): id is string => !!id);
  if (ids.length !== COOKIE_POOL_SIZE) checks.push(`cookie collection: got ${ids.length} device cookies from ${COOKIE_POOL_SIZE} new visitors`);
  return ids;
}

/** Checks a variant's cookie behaviour: new visitors get exactly idstitch's line, returning ones none. */
async function checkCookies(server: Server, pool: readonly string[], checks: string[]): Promise<void> {
  const { variant, url } = server;
  const probes = await probeNewVisitors(url, 5);
  for (const probe of probes) {
    if (probe.status !== 200) checks.push(`${variant}: a new visitor got HTTP ${probe.status}`);
    if (variant === 'bare') {
      if (probe.setCookie.length !== 0) checks.push(`bare: set a cookie`);
      continue;
    }
    if (probe.setCookie.length !== 1 || !EXPECTED_COOKIE.test(probe.setCookie[0]!)) {
      checks.push(`${variant}: a new visitor got Set-Cookie ${JSON.stringify(probe.setCookie)}, expected one line like idstitch's default`);
    }
    if (probe.cacheControl !== 'private') checks.push(`${variant}: a new visitor's response has Cache-Control ${probe.cacheControl}, expected private`);
  }
  const returning = await fetch(url + '/', { headers: { cookie: cookieHeader(pool[0]!) }, signal: AbortSignal.timeout(5000) });
  await returning.arrayBuffer();
  if (returning.headers.getSetCookie().length !== 0) checks.push(`${variant}: a returning visitor's valid cookie was replaced`);
}

async function load(url: string, seconds: number, pool: readonly string[]): Promise<autocannon.Result> {
  // 100 prebuilt requests per connection cycle: every 10th without a cookie (a new visitor).
  const requests: autocannon.Request[] = Array.from({ length: 100 }, (_, i) =>
    i % NEW_VISITOR_EVERY === 0 ? { method: 'GET', path: '/' } : { method: 'GET', path: '/', headers: { cookie: cookieHeader(pool[i % pool.length]!) } },
  );
  return autocannon({ url, connections: CONNECTIONS, pipelining: 1, duration: seconds, timeout: 10, requests });
}

/** One measured window against one (warm) server. */
async function measureWindow(server: Server, repetition: number, position: number, settings: Settings, pool: readonly string[], checks: string[]): Promise<VariantRun> {
  const { variant } = server;
  const { routeHits: hitsBefore } = await ask<WindowReport>(server.child, { type: 'window' }, 5000);
  await ask(server.child, { type: 'mark' }, 5000);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await load(server.url, settings.durationSeconds, pool);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const window = await ask<WindowReport>(server.child, { type: 'window' }, 5000);
  await ask(server.child, { type: 'flush' }, 30_000);
  if (result.errors > 0 || result.non2xx > 0) checks.push(`${variant} #${repetition + 1}: ${result.errors} errors, ${result.non2xx} non-2xx responses`);
  return {
    variant,
    repetition,
    position,
    reqPerSec: result['2xx'] / (wallMs / 1000),
    responses: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    serverCpu: window.cpuShare,
    cpuMicrosPerRequest: (window.cpuShare * window.wallMs * 1000) / Math.max(1, window.routeHits - hitsBefore),
    loadGeneratorCpu: (cpu.user + cpu.system) / 1000 / wallMs,
    rssBytes: window.rss,
    maxRssBytes: window.maxRss,
    sinkShare: window.sinkBusyMs / window.wallMs,
  };
}

/** Shuts the server's tracker down (bounded), compares events received with requests served, stops it. */
async function drain(server: Server, checks: string[]): Promise<VariantTotals> {
  const report = await ask<DrainReport>(server.child, { type: 'drain' }, 30_000);
  await stopChild(server.child);
  if (server.variant !== 'idstitch' || !report.sink || !report.tracker) return { served: report.routeHits };
  const received = report.sink.events;
  if (received !== report.routeHits) {
    checks.push(`idstitch: ${report.routeHits} requests tracked, ${received} events received (dropped: ${JSON.stringify(report.tracker.dropped)})`);
  }
  if (report.sink.rejected > 0) checks.push(`idstitch: the sink rejected ${report.sink.rejected} records as invalid`);
  return {
    served: report.routeHits,
    received,
    lost: report.routeHits - received,
    drainMs: report.drainMs,
    batches: report.sink.requests,
    sinkBytes: report.sink.bodyBytes,
    tracker: report.tracker,
  };
}

export async function runExpressBench(options: { smoke: boolean; log?: (line: string) => void }): Promise<ExpressBenchResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const settings = options.smoke ? SMOKE : FULL;
  const pinned = canPin() && pinSelf(1);
  log(`express: ${settings.repetitions} round(s) × ${VARIANTS.length} variants, ${settings.durationSeconds} s windows after ${settings.warmupSeconds} s warm-up each, ${CONNECTIONS} connections, 1 in ${NEW_VISITOR_EVERY} a new visitor; ${pinned ? 'servers on core 0, autocannon on core 1' : 'not pinned (taskset or a second core missing)'}`);
  const checks: string[] = [];
  const servers = new Map<Variant, Server>();
  try {
    // All three servers live for the whole run (idle ones cost nothing); only one is under load at a time.
    for (const variant of VARIANTS) servers.set(variant, await startServer(variant));
    const pool = await collectCookies(servers.get('idstitch')!, checks);
    if (pool.length === 0) throw new Error('could not collect any device cookie from the idstitch server');
    for (const server of servers.values()) {
      await checkCookies(server, pool, checks);
      await load(server.url, settings.warmupSeconds, pool);
      await ask(server.child, { type: 'flush' }, 30_000);
    }

    const runs: VariantRun[] = [];
    for (let repetition = 0; repetition < settings.repetitions; repetition++) {
      for (const [position, variant] of rotate(VARIANTS, repetition).entries()) {
        const run = await measureWindow(servers.get(variant)!, repetition, position, settings, pool, checks);
        runs.push(run);
        log(`  #${repetition + 1} ${variant.padEnd(8)} ${num(run.reqPerSec).padStart(7)} req/s  p50 ${run.latencyMs.p50} ms  p99 ${run.latencyMs.p99} ms  server CPU ${percent(run.serverCpu, 0)}  autocannon CPU ${percent(run.loadGeneratorCpu, 0)}`);
      }
    }
    const totals = {} as Record<Variant, VariantTotals>;
    for (const variant of VARIANTS) {
      totals[variant] = await drain(servers.get(variant)!, checks);
      servers.delete(variant);
    }
    const result = summarizeRuns(settings, pinned, runs, totals, checks);
    log('');
    log(formatExpress(result));
    return result;
  } finally {
    for (const server of servers.values()) await stopChild(server.child);
  }
}

function summarizeRuns(settings: Settings, pinned: boolean, runs: VariantRun[], totals: Record<Variant, VariantTotals>, checks: string[]): ExpressBenchResult {
  const byRep = (variant: Variant): VariantRun[] => runs.filter((run) => run.variant === variant).sort((a, b) => a.repetition - b.repetition);
  const perRepRatio = (variant: Variant, base: Variant): number[] => byRep(variant).map((run, i) => ratio(run.reqPerSec, byRep(base)[i]!.reqPerSec));
  const summary = Object.fromEntries(
    VARIANTS.map((variant) => {
      const mine = byRep(variant);
      return [
        variant,
        {
          reqPerSec: summarize(mine.map((run) => run.reqPerSec)),
          toBare: summarize(perRepRatio(variant, 'bare')),
          toFloor: summarize(perRepRatio(variant, 'floor')),
          latencyP50Ms: median(mine.map((run) => run.latencyMs.p50)),
          latencyP99Ms: median(mine.map((run) => run.latencyMs.p99)),
          rssBytes: median(mine.map((run) => run.rssBytes)),
          maxRssBytes: Math.max(...mine.map((run) => run.maxRssBytes)),
          serverCpu: median(mine.map((run) => run.serverCpu)),
          cpuMicrosPerRequest: median(mine.map((run) => run.cpuMicrosPerRequest)),
          cpuToFloor: summarize(mine.map((run, i) => ratio(run.cpuMicrosPerRequest, byRep('floor')[i]!.cpuMicrosPerRequest))),
          loadGeneratorCpu: median(mine.map((run) => run.loadGeneratorCpu)),
        },
      ];
    }),
  ) as ExpressBenchResult['summary'];
  const idstitchRuns = byRep('idstitch');
  return {
    settings: { ...settings, connections: CONNECTIONS, newVisitorEvery: NEW_VISITOR_EVERY, pinned },
    runs,
    totals,
    summary,
    idstitchToFloorWithoutSink: summarize(idstitchRuns.map((run, i) => ratio(run.reqPerSec / (1 - run.sinkShare), byRep('floor')[i]!.reqPerSec))),
    sinkShare: median(idstitchRuns.map((run) => run.sinkShare)),
    checks,
  };
}

export function formatExpress(result: ExpressBenchResult): string {
  const rows = VARIANTS.map((variant) => {
    const s = result.summary[variant];
    return [
      variant,
      num(s.reqPerSec.median),
      `${num(s.reqPerSec.min)}–${num(s.reqPerSec.max)}`,
      times(s.toBare.median),
      times(s.toFloor.median),
      `${s.latencyP50Ms} ms`,
      `${s.latencyP99Ms} ms`,
      num(s.cpuMicrosPerRequest),
      times(s.cpuToFloor.median),
      mib(s.rssBytes),
      mib(s.maxRssBytes),
    ];
  });
  const id = result.totals.idstitch;
  const dropped = id.tracker ? Object.entries(id.tracker.dropped).filter(([, n]) => n > 0).map(([reason, n]) => `${reason} ${n}`).join(', ') || 'none' : 'n/a';
  return [
    `Express hello-world: median of ${result.settings.repetitions} round(s) of ${result.settings.durationSeconds} s (ratios taken within a round, then the median):`,
    table(['variant', 'req/s', 'range', '÷ bare', '÷ floor', 'p50', 'p99', 'CPU µs/req', 'CPU ÷ floor', 'RSS', 'peak RSS'], rows),
    `(CPU: the server process's CPU time, all threads, per response; RSS includes ~35 MiB of the tsx loader in every variant)`,
    `idstitch ÷ floor per round: ${result.summary.idstitch.toFloor.values.map((v) => times(v)).join(', ')}  (target ≥ 0.950×)`,
    `in-process sink's share of the server core: ${percent(result.sinkShare)}; idstitch ÷ floor with it given back (estimate): ${times(result.idstitchToFloorWithoutSink.median)}`,
    `events: ${num(id.received ?? 0)} received by the sink of ${num(id.served)} requests served; lost ${num(id.lost ?? 0)} (dropped by reason: ${dropped}); ${num(id.batches ?? 0)} batches, ${num((id.sinkBytes ?? 0) / Math.max(1, id.received ?? 0), 1)} gzip bytes/event`,
    result.checks.length ? `CHECKS FAILED:\n  ${result.checks.join('\n  ')}` : 'checks: floor and idstitch issue the same cookie, keep valid ones; no errors; no lost events',
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const flags = parseFlags();
  const result = await runExpressBench({ smoke: flags.smoke });
  if (flags.json) writeJson(flags.json, result);
  process.exitCode = result.checks.length ? 1 : 0;
}
