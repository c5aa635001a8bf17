// Memory during an outage: events tracked against a dead endpoint (a closed port) with the
// default queue bounds. However many events arrive, the process must stay within the queue's cap
// plus a small constant, and every event refused must be counted by reason.
//
//   tsx --expose-gc bench/memory.ts [--smoke] [--events <n>] [--json <path>]
//
// Full run: 1,000,000 events per scenario, results in bench/results/memory.json. --smoke: 100,000
// events, results in bench/results/memory-smoke.json. --events overrides the count (the test suite
// runs a short version this way). Exit code 1 when a check fails.
//
// Two scenarios, each in its own process so neither's heap or peak RSS leaks into the other's:
//   count-bound  ~370-byte web events: maxQueueSize (20,000 events, ~7 MB) binds first
//   byte-bound   ~4 KB events: maxQueueBytes (32 MiB) binds first, at ~8,000 events
// RSS is sampled every 10,000 events; the peak is the largest sample. `--expose-gc` (optional) lets
// the baseline and the retained figures be taken after a full collection.
import { fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createTracker, DEFAULTS, type TrackerStats } from 'idstitch';
import { mib, num, table, writeJson } from './report.js';

/**
 * What the process may grow beyond the queue's byte cap: V8's heap headroom for the garbage a million
 * track() calls leave (its young generation alone may commit 48 MiB), the gzipped copies of batches
 * held between retries, and the allocator's slack. Measured on 2 busy cores, Node 20.20: peak RSS
 * growth minus the Buffers held was 26–42 MiB (100 k to 1 M events), while the heap in use after a
 * full GC stayed at its baseline (~11 MiB).
 */
export const RSS_ALLOWANCE_BYTES = 64 * 1024 * 1024;
const SAMPLE_EVERY = 10_000;
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

export interface ScenarioResult {
  scenario: 'count-bound' | 'byte-bound';
  events: number;
  /** Each event's JSON size in bytes, as the queue counts it (every event is the same size). */
  eventBytes: number;
  seconds: number;
  maxQueueSize: number;
  maxQueueBytes: number;
  /** Events held when tracking ended (the bound that bit). */
  queued: number;
  stats: TrackerStats;
  /** Drops by reason once shutdown() gave up on the held events. */
  droppedAfterShutdown: TrackerStats['dropped'];
  rss: { baseline: number; peak: number; growth: number; retained: number };
  /** V8's heap (used, and committed: what RSS sees) and the Buffers outside it, after a full GC when exposed. */
  heap: { baselineUsed: number; retainedUsed: number; retainedTotal: number; retainedArrayBuffers: number };
  /** maxQueueBytes + RSS_ALLOWANCE_BYTES: what `growth` must stay under. */
  rssBound: number;
  gcExposed: boolean;
  checks: Record<string, boolean>;
}

export interface MemoryBenchResult {
  events: number;
  node: string;
  rssAllowanceBytes: number;
  scenarios: ScenarioResult[];
  ok: boolean;
}

interface Flags {
  smoke: boolean;
  events: number | undefined;
  json: string | undefined;
  scenario: ScenarioResult['scenario'] | undefined;
}

function parseArgs(argv: readonly string[]): Flags {
  const flags: Flags = { smoke: false, events: undefined, json: undefined, scenario: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (arg === '--smoke') flags.smoke = true;
    else if (arg === '--events' && value !== undefined && /^\d+$/.test(value)) flags.events = Number(argv[++i]);
    else if (arg === '--json' && value !== undefined) flags.json = argv[++i];
    else if (arg === '--scenario' && (value === 'count-bound' || value === 'byte-bound')) flags.scenario = argv[++i] as Flags['scenario'];
    else throw new Error(`unknown argument ${JSON.stringify(arg)} (known: --smoke, --events <n>, --json <path>)`);
  }
  return flags;
}

/** A port that refuses connections: bound, then released. */
async function deadEndpoint(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

const collect = (globalThis as { gc?: () => void }).gc;
function settledMemory(): NodeJS.MemoryUsage {
  collect?.();
  collect?.();
  return process.memoryUsage();
}

/**
 * One event's size as sent (what the queue counts against maxQueueBytes), read off the wire from a
 * throwaway tracker; it also warms up the code paths before the baseline is taken.
 */
async function measureEvent(properties: Record<string, unknown>, identity: { deviceId: string; userId: string }): Promise<number> {
  let bodyBytes = 0;
  const sink = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
    req.on('end', () =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":200,"num_records_imported":1,"status":"OK"}'),
    );
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const probe = createTracker({
    apiHost: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`,
    token: 'memory-bench',
    logger: false,
    gzip: false,
  });
  probe.track('Viewed Page', properties, identity);
  await probe.shutdown();
  sink.closeAllConnections();
  await new Promise<void>((resolve) => sink.close(() => resolve()));
  return bodyBytes - 2; // the brackets around the one event
}

/** One scenario, in this process. */
async function runScenario(scenario: ScenarioResult['scenario'], events: number): Promise<ScenarioResult> {
  const apiHost = await deadEndpoint();
  const tracker = createTracker({ apiHost, token: 'memory-bench', logger: false });
  const devices = Array.from({ length: 1000 }, () => randomUUID());
  // Varied content, so the gzipped copies held between retries are as large as real ones.
  const blob = scenario === 'byte-bound' ? randomBytes(2900).toString('base64') : '';
  // Every event the same size (fixed-width values), so the bytes held are exactly count × size.
  const properties = (n: number): Record<string, unknown> =>
    scenario === 'byte-bound'
      ? { path: `/docs/${String(n % 1000).padStart(3, '0')}`, blob }
      : {
          path: `/pricing/${String(n % 1000).padStart(3, '0')}`,
          plan: n % 2 ? 'prem' : 'free',
          referrer: 'https://www.example.com/blog/launch',
          experiment: n % 2 ? 'a' : 'b',
        };
  const identity = (n: number) => ({ deviceId: devices[n % devices.length]!, userId: `user-${String(n % 10_000).padStart(4, '0')}` });

  const eventBytes = await measureEvent(properties(1), identity(1));

  const baseline = settledMemory();
  let peak = baseline.rss;
  const started = performance.now();
  for (let n = 0; n < events; n++) {
    tracker.track('Viewed Page', properties(n), identity(n));
    if ((n + 1) % SAMPLE_EVERY === 0) {
      peak = Math.max(peak, process.memoryUsage().rss);
      // Let connection attempts fail and retries get scheduled, as they would between requests.
      await yieldToLoop();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  peak = Math.max(peak, process.memoryUsage().rss);
  const stats = tracker.stats();
  const retained = settledMemory();
  await tracker.shutdown({ timeoutMs: 100 });
  const after = tracker.stats();

  const config = DEFAULTS; // the tracker above runs at the default bounds
  const growth = peak - baseline.rss;
  const rssBound = config.maxQueueBytes + RSS_ALLOWANCE_BYTES;
  const checks = {
    'every event tracked or counted as queue_full': stats.tracked + stats.dropped.queue_full === events,
    'the queue held at most maxQueueSize events': stats.queued <= config.maxQueueSize,
    'nothing was given up for another reason while tracking':
      stats.dropped.retries_exhausted + stats.dropped.rejected + stats.dropped.invalid_event === 0,
    'every held event counted at shutdown': after.dropped.shutdown_timeout + after.delivered === stats.tracked,
    'peak RSS growth within maxQueueBytes + allowance': growth <= rssBound,
  };
  return {
    scenario,
    events,
    eventBytes,
    seconds,
    maxQueueSize: config.maxQueueSize,
    maxQueueBytes: config.maxQueueBytes,
    queued: stats.queued,
    stats,
    droppedAfterShutdown: after.dropped,
    rss: { baseline: baseline.rss, peak, growth, retained: retained.rss },
    heap: {
      baselineUsed: baseline.heapUsed,
      retainedUsed: retained.heapUsed,
      retainedTotal: retained.heapTotal,
      retainedArrayBuffers: retained.arrayBuffers,
    },
    rssBound,
    gcExposed: collect !== undefined,
    checks,
  };
}

/** Runs a scenario in a fresh process (same node flags and loader as this one) and returns its result. */
function runInChild(scenario: ScenarioResult['scenario'], events: number): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--scenario', scenario, '--events', String(events)], {
      execArgv: process.execArgv,
    });
    let result: ScenarioResult | undefined;
    child.on('message', (message) => (result = message as ScenarioResult));
    child.once('error', reject);
    child.once('exit', (code) =>
      result ? resolve(result) : reject(new Error(`${scenario} scenario exited with code ${code} and no result`)),
    );
  });
}

function print(result: MemoryBenchResult): void {
  const rows = result.scenarios.map((s) => [
    s.scenario,
    num(s.events),
    `${num(s.eventBytes)} B`,
    num(s.queued),
    mib(s.rss.baseline),
    mib(s.rss.peak),
    mib(s.rss.growth),
    mib(s.rssBound),
    mib(s.heap.retainedArrayBuffers),
    `${s.seconds.toFixed(1)} s`,
  ]);
  console.log(
    `\nmemory: ${num(result.events)} events per scenario against a dead endpoint, default bounds (maxQueueSize ${num(DEFAULTS.maxQueueSize)}, maxQueueBytes ${mib(DEFAULTS.maxQueueBytes)}), Node ${result.node}`,
  );
  console.log(table(['scenario', 'events', 'event', 'held', 'RSS before', 'RSS peak', 'growth', 'bound', 'buffers held', 'time'], rows));
  for (const s of result.scenarios) {
    const drops = Object.entries(s.stats.dropped)
      .filter(([, n]) => n > 0)
      .map(([reason, n]) => `${reason} ${num(n)}`);
    console.log(
      `${s.scenario}: while down, dropped ${drops.join(', ') || 'nothing'}; at shutdown, ${num(s.droppedAfterShutdown.shutdown_timeout)} held events counted as shutdown_timeout`,
    );
    for (const [check, passed] of Object.entries(s.checks)) if (!passed) console.log(`  FAILED: ${check}`);
  }
  if (!result.scenarios.every((s) => s.gcExposed)) console.log('(run with --expose-gc for post-GC baselines)');
}

async function main(): Promise<void> {
  const flags = parseArgs(process.argv.slice(2));
  const events = flags.events ?? (flags.smoke ? 100_000 : 1_000_000);
  if (flags.scenario) {
    const result = await runScenario(flags.scenario, events);
    process.send?.(result);
    return;
  }
  const scenarios = [await runInChild('count-bound', events), await runInChild('byte-bound', events)];
  const result: MemoryBenchResult = {
    events,
    node: process.versions.node,
    rssAllowanceBytes: RSS_ALLOWANCE_BYTES,
    scenarios,
    ok: scenarios.every((s) => Object.values(s.checks).every(Boolean)),
  };
  print(result);
  writeJson(flags.json ?? `${RESULTS}${flags.smoke ? 'memory-smoke.json' : 'memory.json'}`, result);
  process.exitCode = result.ok ? 0 : 1;
}

// Only as a script: the test suite imports this module for its constant and types.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
