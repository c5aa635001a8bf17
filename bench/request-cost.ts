// Request cost: a hello-world server under autocannon, with every way of tracking one event per
// request (bench/server-variants.ts), as ratios against a bare server and against the hand-written
// "floor" measured in the same round. Run through bench/express.ts, bench/koa.ts and bench/fastify.ts.
//
// Each variant's server is a child process pinned to core 0; autocannon runs here and the sink in its
// own process, both pinned to core 1 (their CPU is reported, to see whether that core saturated). The
// servers live for the whole run and are warmed once; then short windows alternate between them, in
// an order that rotates every round, so drift on a shared machine spreads over all of them. 50
// connections; 1 request in 10 is a new visitor (no cookie), the others send a device cookie an
// idstitch server issued. Ratios are taken within a round. After the last round every variant is
// drained with its SDK's own shutdown and the events at the sink are compared with the requests served.
// Nothing here asserts a speed; the checks are cookies, HTTP errors and idstitch's events.
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { TrackerStats } from 'idstitch';
import { ask, canPin, nextMessage, pinSelf, spawnTs, startSinkProcess, stopChild, type Message, type RemoteSink } from './child.js';
import { pacedLoad } from './paced-load.js';
import { PEERS, type Peer } from './peers.js';
import { mib, num, percent, table, times } from './report.js';
import { VARIANT_ROUTES, VARIANTS, type Variant } from './server-variants.js';
import type { RouteCounts } from './sink.js';
import { median, quantile, ratio, rotate, summarize, type Summary } from './stats.js';

export type Framework = 'express' | 'koa' | 'fastify';
const SERVERS: Record<Framework, string> = {
  express: new URL('./express-server.ts', import.meta.url).pathname,
  koa: new URL('./koa-server.ts', import.meta.url).pathname,
  fastify: new URL('./fastify-server.ts', import.meta.url).pathname,
};
const FRAMEWORK_NAMES: Record<Framework, string> = { express: 'Express 5', koa: 'Koa 3', fastify: 'Fastify 5' };
const CONNECTIONS = 50;
/**
 * The offered load of each round's paced window (req/s, spread over the same connections): about
 * half the slowest variant's saturated throughput here, so that every variant keeps up and its
 * latency shows what a request costs rather than how long it queued. At saturation, with a fixed
 * number of connections, latency is the inverse of throughput (Little's law): any variant slower
 * than bare has a proportionally higher p99 there, whatever its pauses.
 */
export const PACED_RATE: Record<Framework, number> = { express: 2000, koa: 4000, fastify: 4000 };
const NEW_VISITOR_EVERY = 10;
/** Cookies collected from a real idstitch server before the load starts. */
const COOKIE_POOL_SIZE = 30;
/** What idstitch (and so the floor and the peers, which use the floor's cookie code) answers a new visitor with. */
const EXPECTED_COOKIE =
  /^idstitch_device=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}; Max-Age=34560000; Path=\/; HttpOnly; SameSite=Lax$/;

interface Settings {
  /** Rounds; each measures every variant once, in an order that rotates per round. */
  repetitions: number;
  /** Warm-up per server before the first round (s): JIT, pools and the first batches. */
  warmupSeconds: number;
  /** One measured window (s). */
  durationSeconds: number;
  /** The paced window that follows it (s), at `PACED_RATE`. */
  pacedSeconds: number;
}

const FULL: Settings = { repetitions: 6, warmupSeconds: 4, durationSeconds: 5, pacedSeconds: 4 };
const SMOKE: Settings = { repetitions: 1, warmupSeconds: 0.5, durationSeconds: 1.5, pacedSeconds: 1 };

interface WindowReport extends Message {
  wallMs: number;
  cpuShare: number;
  rss: number;
  maxRss: number;
  routeHits: number;
}

interface FlushReport extends Message {
  flushMs: number;
  /** Still flushing when the server stopped waiting (it goes on in the background). */
  late: boolean;
  failure?: string;
}

interface DrainReport extends Message {
  drainMs: number;
  routeHits: number;
  client?: { tracker?: TrackerStats; clientErrors?: number; clientErrorSamples?: string[] };
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
  /** The paced window at `PACED_RATE`: latency when the server keeps up, and the rate it answered. */
  paced: { reqPerSec: number; latencyMs: { p50: number; p99: number } };
  /** CPU time of the server process (all threads) per wall second of the window; 1.0 = one core busy. */
  serverCpu: number;
  /** Server CPU time (all threads) per response, in µs: steadier than req/s when neighbours take the core. */
  cpuMicrosPerRequest: number;
  /** CPU share of this process (autocannon): near 1.0 would mean the load generator is the bottleneck. */
  loadGeneratorCpu: number;
  /** CPU share of the sink process, which shares autocannon's core. */
  sinkCpu: number;
  rssBytes: number;
  /** Peak RSS of the server process so far. */
  maxRssBytes: number;
  /** How long the client's flush() took after the window (capped: see `flushLate`), ms. */
  flushMs: number;
  flushLate: boolean;
}

export interface VariantTotals {
  /** Requests the route handled in the server's life: probes, warm-up and every window. */
  served: number;
  /** Sending variants: events at the sink once the variant was drained, and the difference. */
  received?: number;
  /** Events the sink had already received (same idempotency key): re-sent after a timeout, say. */
  duplicates?: number;
  lost?: number;
  drainMs?: number;
  /** HTTP requests the sink received from this variant. */
  sinkRequests?: number;
  /** Request line + headers + body per distinct event received (re-sent batches included in the bytes). */
  wireBytesPerEvent?: number;
  /** Body bytes (as sent: gzip or not) per event received. */
  bodyBytesPerEvent?: number;
  /** Failures the client reported (peers: callbacks and error events). */
  clientErrors?: number;
  tracker?: TrackerStats;
}

export interface VariantSummary {
  reqPerSec: Summary;
  /** Per-round ratio to bare, then to floor (same round), summarised. */
  toBare: Summary;
  toFloor: Summary;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Per-round p99 ÷ bare's p99. */
  p99ToBare: Summary;
  /** The same at the paced rate (`PACED_RATE`): medians, and per-round p99 ÷ bare's. */
  pacedP50Ms: number;
  pacedP99Ms: number;
  pacedP99ToBare: Summary;
  /**
   * p99 of every paced response of every round together, and ÷ bare's: steadier than the per-round
   * figures, each of which a single pause of the server can set.
   */
  pacedPooledP99Ms: number;
  pacedPooledP99ToBare: number;
  rssBytes: number;
  maxRssBytes: number;
  serverCpu: number;
  cpuMicrosPerRequest: number;
  /** Per-round CPU µs per request minus bare's: what the tracking costs the server, summarised. */
  addedCpuMicros: Summary;
  /** Per-round CPU µs per request ÷ the floor's (> 1: more CPU than the floor). */
  cpuToFloor: Summary;
  loadGeneratorCpu: number;
  sinkCpu: number;
  /** flush() after a window, ms (median). */
  flushMs: number;
}

export interface RequestCostResult {
  framework: Framework;
  settings: Settings & { connections: number; newVisitorEvery: number; pinned: boolean; pacedRate: number };
  runs: VariantRun[];
  totals: Record<Variant, VariantTotals>;
  summary: Record<Variant, VariantSummary>;
  /** idstitch against the peers, per round. */
  versusPeers: {
    /** idstitch req/s ÷ the fastest peer's in the same round. */
    toBestPeer: Summary;
    /** The peer with the most req/s (median). */
    bestPeerByThroughput: Peer;
    /** idstitch's added CPU µs ÷ the least added by a peer (medians). */
    addedCpuToBestPeer: number;
    /** The peer that adds the least CPU per request (median). */
    bestPeerByCpu: Peer;
  };
  checks: string[];
  /** What the peers did that is worth knowing but is not this benchmark's fault (lost events, client errors). */
  findings: string[];
}

interface Server {
  variant: Variant;
  child: ReturnType<typeof spawnTs>['child'];
  url: string;
}

async function startServer(framework: Framework, variant: Variant, sinkUrl: string): Promise<Server> {
  const { child } = spawnTs(SERVERS[framework], [variant, sinkUrl], { core: 0 });
  const ready = await nextMessage<Message & { port: number }>(child, 'ready', 60_000);
  return { variant, child, url: `http://127.0.0.1:${ready.port}` };
}

/** GETs `/` `count` times without a cookie; returns each response's Set-Cookie lines and Cache-Control. */
async function probeNewVisitors(
  url: string,
  count: number,
): Promise<Array<{ setCookie: string[]; cacheControl: string | null; status: number }>> {
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
  if (ids.length !== COOKIE_POOL_SIZE)
    checks.push(`cookie collection: got ${ids.length} device cookies from ${COOKIE_POOL_SIZE} new visitors`);
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
    if (probe.cacheControl !== 'private')
      checks.push(`${variant}: a new visitor's response has Cache-Control ${probe.cacheControl}, expected private`);
  }
  const returning = await fetch(url + '/', { headers: { cookie: cookieHeader(pool[0]!) }, signal: AbortSignal.timeout(5000) });
  await returning.arrayBuffer();
  if (returning.headers.getSetCookie().length !== 0) checks.push(`${variant}: a returning visitor's valid cookie was replaced`);
}

function load(url: string, seconds: number, pool: readonly string[]): Promise<autocannon.Result> {
  return autocannon({ url, connections: CONNECTIONS, pipelining: 1, duration: seconds, timeout: 10, requests: requestMix(pool) });
}

/** 100 prebuilt requests per connection cycle: every 10th without a cookie (a new visitor). */
/** The request-cost mix: 100 requests, 1 in 10 from a new visitor, the rest with the device cookie among others. */
export function requestMix(pool: readonly string[]): Array<{ method: 'GET'; path: string; headers?: Record<string, string> }> {
  return Array.from({ length: 100 }, (_, i) =>
    i % NEW_VISITOR_EVERY === 0
      ? { method: 'GET', path: '/' }
      : { method: 'GET', path: '/', headers: { cookie: cookieHeader(pool[i % pool.length]!) } },
  );
}

/** One measured window against one (warm) server. */
async function measureWindow(
  server: Server,
  sink: RemoteSink,
  repetition: number,
  position: number,
  settings: Settings & { pacedRate: number },
  pool: readonly string[],
  checks: string[],
  pacedLatencies: number[],
): Promise<VariantRun> {
  const { variant } = server;
  const { routeHits: hitsBefore } = await ask<WindowReport>(server.child, { type: 'window' }, 5000);
  await ask(server.child, { type: 'mark' }, 5000);
  const sinkBefore = await sink.cpuMicros();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await load(server.url, settings.durationSeconds, pool);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const sinkMicros = (await sink.cpuMicros()) - sinkBefore;
  const window = await ask<WindowReport>(server.child, { type: 'window' }, 5000);
  const flushed = await ask<FlushReport>(server.child, { type: 'flush' }, 60_000);
  if (flushed.failure) checks.push(`${variant} #${repetition + 1}: flush() rejected: ${flushed.failure}`);
  if (result.errors > 0 || result.non2xx > 0)
    checks.push(`${variant} #${repetition + 1}: ${result.errors} errors, ${result.non2xx} non-2xx responses`);
  // Then the same server at a rate every variant keeps up with, and its own flush.
  const paced = await pacedLoad(`${server.url}/`, {
    rate: settings.pacedRate,
    seconds: settings.pacedSeconds,
    connections: CONNECTIONS,
    requests: requestMix(pool),
  });
  await ask<FlushReport>(server.child, { type: 'flush' }, 60_000);
  if (paced.failed > 0) checks.push(`${variant} #${repetition + 1} (paced): ${paced.failed} failed or non-2xx responses`);
  for (const latency of paced.latencies) pacedLatencies.push(latency);
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
    paced: { reqPerSec: paced.reqPerSec, latencyMs: { p50: paced.p50, p99: paced.p99 } },
    serverCpu: window.cpuShare,
    cpuMicrosPerRequest: (window.cpuShare * window.wallMs * 1000) / Math.max(1, window.routeHits - hitsBefore),
    loadGeneratorCpu: (cpu.user + cpu.system) / 1000 / wallMs,
    sinkCpu: sinkMicros / 1000 / wallMs,
    rssBytes: window.rss,
    maxRssBytes: window.maxRss,
    flushMs: flushed.flushMs,
    flushLate: flushed.late,
  };
}

/** Shuts the variant's client down with its own API (bounded) and stops the server. */
async function drain(server: Server): Promise<DrainReport> {
  const report = await ask<DrainReport>(server.child, { type: 'drain' }, 60_000);
  await stopChild(server.child);
  return report;
}

/** Events at the sink against requests served, per variant; idstitch's losses fail the run, the peers' are findings. */
function account(
  variant: Variant,
  report: DrainReport,
  routes: Record<string, RouteCounts>,
  checks: string[],
  findings: string[],
): VariantTotals {
  const route = VARIANT_ROUTES[variant];
  if (route === undefined) return { served: report.routeHits };
  const at = routes[route]!;
  const received = at.events - at.duplicates;
  const lost = report.routeHits - received;
  const clientErrors = report.client?.clientErrors ?? 0;
  if (at.rejected > 0) checks.push(`${variant}: the sink refused ${at.rejected} records on /${route} (a sink or client bug)`);
  if (variant === 'idstitch') {
    if (lost !== 0)
      checks.push(
        `idstitch: ${report.routeHits} requests tracked, ${received} events received (dropped: ${JSON.stringify(report.client?.tracker?.dropped)})`,
      );
    if (at.duplicates > 0) checks.push(`idstitch: ${at.duplicates} duplicate $insert_ids at the sink`);
  } else if (lost !== 0 || clientErrors > 0 || at.duplicates > 0) {
    const samples = report.client?.clientErrorSamples?.length ? ` (${report.client.clientErrorSamples.join('; ')})` : '';
    findings.push(
      `${variant}: ${num(report.routeHits)} requests tracked, ${num(received)} distinct events at the sink after its shutdown (${num(lost)} lost, ${num(at.duplicates)} sent twice), ${num(clientErrors)} errors reported by the client${samples}`,
    );
  }
  return {
    served: report.routeHits,
    received,
    duplicates: at.duplicates,
    lost,
    drainMs: report.drainMs,
    sinkRequests: at.requests,
    wireBytesPerEvent: at.wireBytes / Math.max(1, received),
    bodyBytesPerEvent: at.bodyBytes / Math.max(1, received),
    clientErrors,
    ...(report.client?.tracker ? { tracker: report.client.tracker } : {}),
  };
}

export async function runRequestCost(
  framework: Framework,
  options: { smoke: boolean; log?: (line: string) => void },
): Promise<RequestCostResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const settings = { ...(options.smoke ? SMOKE : FULL), pacedRate: PACED_RATE[framework] };
  const pinned = canPin() && pinSelf(1);
  log(
    `${framework}: ${settings.repetitions} round(s) × ${VARIANTS.length} variants, ${settings.durationSeconds} s windows after ${settings.warmupSeconds} s warm-up each, ${CONNECTIONS} connections, 1 in ${NEW_VISITOR_EVERY} a new visitor; then ${settings.pacedSeconds} s paced at ${num(settings.pacedRate)} req/s; ${pinned ? 'servers on core 0, autocannon and the sink on core 1' : 'not pinned (taskset or a second core missing)'}`,
  );
  const checks: string[] = [];
  const findings: string[] = [];
  const sink = await startSinkProcess(pinned ? 1 : undefined);
  const servers = new Map<Variant, Server>();
  try {
    // Every server lives for the whole run (idle ones cost nothing); only one is under load at a time.
    for (const server of await Promise.all(VARIANTS.map((variant) => startServer(framework, variant, sink.url))))
      servers.set(server.variant, server);
    const pool = await collectCookies(servers.get('idstitch')!, checks);
    if (pool.length === 0) throw new Error('could not collect any device cookie from the idstitch server');
    for (const server of servers.values()) {
      await checkCookies(server, pool, checks);
      await load(server.url, settings.warmupSeconds, pool);
      await ask(server.child, { type: 'flush' }, 60_000);
    }

    const runs: VariantRun[] = [];
    // Kept out of the runs (and the results file): every paced latency, per variant, for a pooled p99.
    const pacedLatencies = new Map<Variant, number[]>(VARIANTS.map((variant) => [variant, []]));
    for (let repetition = 0; repetition < settings.repetitions; repetition++) {
      for (const [position, variant] of rotate(VARIANTS, repetition).entries()) {
        const run = await measureWindow(
          servers.get(variant)!,
          sink,
          repetition,
          position,
          settings,
          pool,
          checks,
          pacedLatencies.get(variant)!,
        );
        runs.push(run);
        log(
          `  #${repetition + 1} ${variant.padEnd(8)} ${num(run.reqPerSec).padStart(7)} req/s  p50 ${run.latencyMs.p50} ms  p99 ${run.latencyMs.p99} ms (paced: ${num(run.paced.latencyMs.p50, 2)} / ${num(run.paced.latencyMs.p99, 1)} ms)  server CPU ${percent(run.serverCpu, 0)}  autocannon ${percent(run.loadGeneratorCpu, 0)} + sink ${percent(run.sinkCpu, 0)} of core 1`,
        );
      }
    }
    const reports = new Map<Variant, DrainReport>();
    for (const variant of VARIANTS) {
      reports.set(variant, await drain(servers.get(variant)!));
      servers.delete(variant);
    }
    const counts = await sink.counts();
    if (counts.unknown > 0) checks.push(`the sink answered ${counts.unknown} requests to unknown routes with 404`);
    const totals = Object.fromEntries(
      VARIANTS.map((variant) => [variant, account(variant, reports.get(variant)!, counts.routes, checks, findings)]),
    ) as Record<Variant, VariantTotals>;
    const pooledP99 = new Map([...pacedLatencies].map(([variant, latencies]) => [variant, quantile(latencies, 0.99)]));
    const result = summarizeRuns(framework, settings, pinned, runs, totals, checks, findings, pooledP99);
    log('');
    log(formatRequestCost(result));
    return result;
  } finally {
    for (const server of servers.values()) await stopChild(server.child);
    await sink.stop();
  }
}

function summarizeRuns(
  framework: Framework,
  settings: Settings & { pacedRate: number },
  pinned: boolean,
  runs: VariantRun[],
  totals: Record<Variant, VariantTotals>,
  checks: string[],
  findings: string[],
  pooledP99: ReadonlyMap<Variant, number>,
): RequestCostResult {
  const byRep = (variant: Variant): VariantRun[] =>
    runs.filter((run) => run.variant === variant).sort((a, b) => a.repetition - b.repetition);
  const perRep = (
    variant: Variant,
    base: Variant,
    pick: (run: VariantRun) => number,
    combine: (a: number, b: number) => number,
  ): number[] => byRep(variant).map((run, i) => combine(pick(run), pick(byRep(base)[i]!)));
  const reqs = (run: VariantRun): number => run.reqPerSec;
  const cpu = (run: VariantRun): number => run.cpuMicrosPerRequest;
  const summary = Object.fromEntries(
    VARIANTS.map((variant) => {
      const mine = byRep(variant);
      const s: VariantSummary = {
        reqPerSec: summarize(mine.map(reqs)),
        toBare: summarize(perRep(variant, 'bare', reqs, ratio)),
        toFloor: summarize(perRep(variant, 'floor', reqs, ratio)),
        latencyP50Ms: median(mine.map((run) => run.latencyMs.p50)),
        latencyP99Ms: median(mine.map((run) => run.latencyMs.p99)),
        p99ToBare: summarize(perRep(variant, 'bare', (run) => run.latencyMs.p99, ratio)),
        pacedP50Ms: median(mine.map((run) => run.paced.latencyMs.p50)),
        pacedP99Ms: median(mine.map((run) => run.paced.latencyMs.p99)),
        pacedP99ToBare: summarize(perRep(variant, 'bare', (run) => run.paced.latencyMs.p99, ratio)),
        pacedPooledP99Ms: pooledP99.get(variant)!,
        pacedPooledP99ToBare: ratio(pooledP99.get(variant)!, pooledP99.get('bare')!),
        rssBytes: median(mine.map((run) => run.rssBytes)),
        maxRssBytes: Math.max(...mine.map((run) => run.maxRssBytes)),
        serverCpu: median(mine.map((run) => run.serverCpu)),
        cpuMicrosPerRequest: median(mine.map(cpu)),
        addedCpuMicros: summarize(perRep(variant, 'bare', cpu, (a, b) => a - b)),
        cpuToFloor: summarize(perRep(variant, 'floor', cpu, ratio)),
        loadGeneratorCpu: median(mine.map((run) => run.loadGeneratorCpu)),
        sinkCpu: median(mine.map((run) => run.sinkCpu)),
        flushMs: median(mine.map((run) => run.flushMs)),
      };
      const late = mine.filter((run) => run.flushLate).length;
      if (late > 0)
        findings.push(
          `${variant}: flush() after a window was still running after ${num(Math.max(...mine.map((run) => run.flushMs)))} ms in ${late} of ${mine.length} round(s)`,
        );
      return [variant, s];
    }),
  ) as Record<Variant, VariantSummary>;
  const idstitch = byRep('idstitch');
  const toBestPeer = idstitch.map((run, i) => ratio(run.reqPerSec, Math.max(...PEERS.map((peer) => byRep(peer)[i]!.reqPerSec))));
  const bestPeerByThroughput = [...PEERS].sort((a, b) => summary[b].reqPerSec.median - summary[a].reqPerSec.median)[0]!;
  const bestPeerByCpu = [...PEERS].sort((a, b) => summary[a].addedCpuMicros.median - summary[b].addedCpuMicros.median)[0]!;
  return {
    framework,
    settings: { ...settings, connections: CONNECTIONS, newVisitorEvery: NEW_VISITOR_EVERY, pinned },
    runs,
    totals,
    summary,
    versusPeers: {
      toBestPeer: summarize(toBestPeer),
      bestPeerByThroughput,
      addedCpuToBestPeer: ratio(summary.idstitch.addedCpuMicros.median, summary[bestPeerByCpu].addedCpuMicros.median),
      bestPeerByCpu,
    },
    checks,
    findings,
  };
}

export function formatRequestCost(result: RequestCostResult): string {
  const rows = VARIANTS.map((variant) => {
    const s = result.summary[variant];
    const t = result.totals[variant];
    return [
      variant,
      num(s.reqPerSec.median),
      `${num(s.reqPerSec.min)}–${num(s.reqPerSec.max)}`,
      times(s.toBare.median),
      times(s.toFloor.median),
      `${s.latencyP50Ms} ms`,
      `${s.latencyP99Ms} ms`,
      num(s.cpuMicrosPerRequest),
      variant === 'bare' ? '' : num(s.addedCpuMicros.median),
      mib(s.maxRssBytes),
      t.received === undefined ? '' : `${num(t.received)}/${num(t.served)}`,
      t.lost === undefined ? '' : num(t.lost),
      t.sinkRequests === undefined ? '' : num(t.sinkRequests),
      t.wireBytesPerEvent === undefined ? '' : num(t.wireBytesPerEvent),
    ];
  });
  const v = result.versusPeers;
  const id = result.summary.idstitch;
  return [
    `${FRAMEWORK_NAMES[result.framework]} hello-world: median of ${result.settings.repetitions} round(s) of ${result.settings.durationSeconds} s (ratios and differences taken within a round, then the median):`,
    table(
      [
        'variant',
        'req/s',
        'range',
        '÷ bare',
        '÷ floor',
        'p50',
        'p99',
        'CPU µs/req',
        '+CPU µs',
        'peak RSS',
        'events/served',
        'lost',
        'sink reqs',
        'wire B/event',
      ],
      rows,
    ),
    `(CPU: the server process's CPU time, all threads, per response; +CPU: minus bare's in the same round. RSS includes ~35 MiB of the tsx loader in every variant. "events": at the sink after each client's own shutdown; wire: request line + headers + body)`,
    `idstitch ÷ floor per round: ${id.toFloor.values.map((x) => times(x)).join(', ')}; ÷ the fastest peer per round: ${v.toBestPeer.values.map((x) => times(x)).join(', ')} (fastest overall: ${v.bestPeerByThroughput})`,
    `paced at ${num(result.settings.pacedRate)} req/s (every variant keeps up), p50 / p99: ${VARIANTS.map((variant) => `${variant} ${num(result.summary[variant].pacedP50Ms, 2)} / ${num(result.summary[variant].pacedP99Ms, 1)} ms`).join(', ')}; idstitch p99 ÷ bare's per round: ${id.pacedP99ToBare.values.map((x) => times(x)).join(', ')}; p99 of all rounds' responses together: ${VARIANTS.map((variant) => `${variant} ${num(result.summary[variant].pacedPooledP99Ms, 1)} ms`).join(', ')} (idstitch ÷ bare ${times(id.pacedPooledP99ToBare)})`,
    `idstitch adds ${num(id.addedCpuMicros.median)} µs of server CPU per request; the leanest peer (${v.bestPeerByCpu}) ${num(result.summary[v.bestPeerByCpu].addedCpuMicros.median)} µs: ${times(v.addedCpuToBestPeer, 2)}`,
    ...result.findings.map((finding) => `finding: ${finding}`),
    result.checks.length
      ? `CHECKS FAILED:\n  ${result.checks.join('\n  ')}`
      : 'checks: every variant but bare issues the same cookie and keeps valid ones; no HTTP errors; every idstitch event at the sink; no record refused',
  ].join('\n');
}
