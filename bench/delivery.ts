// Delivery throughput: events tracked in a burst, then flush(), to an /import sink over loopback
// that counts and dedupes by $insert_id without checking records (checking made the sink the
// bottleneck), with gzip on and retries on (the default policy, delays shortened). Compared with the
// in-process ceiling: JSON.stringify + gzip of the same batches on one thread, in the same run.
//
//   tsx bench/delivery.ts [--smoke] [--json <path>]
//
// This process (tracker, and libuv's pool that gzips) is pinned to core 0; the sink runs in its own
// process on core 1. The queue bounds are raised to hold the whole burst: the figure is how fast the
// pipeline drains, not how the bound behaves. Nothing here asserts a speed.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createTracker, DEFAULTS, LIBRARY_VERSION, type IdstitchError, type TrackerStats } from 'idstitch';
import { canPin, pinSelf, startSinkProcess, type RemoteSink } from './child.js';
import { mib, num, parseFlags, percent, table, times, writeJson } from './report.js';
import type { SinkCounts } from './sink.js';
import { median, summarize, type Summary } from './stats.js';
import { floorInsertId } from './floor.js';

interface Scenario {
  name: string;
  /** The sink answers every nth request 503 without ingesting it (0: never). */
  failEvery: number;
}

interface Settings {
  events: number;
  repetitions: number;
  scenarios: Scenario[];
}

const CLEAN: Scenario = { name: 'clean', failEvery: 0 };
const FAULTY: Scenario = { name: '1 in 10 requests answered 503', failEvery: 10 };
const FULL: Settings = { events: 200_000, repetitions: 3, scenarios: [CLEAN, FAULTY] };
const SMOKE: Settings = { events: 50_000, repetitions: 1, scenarios: [CLEAN] };

/** Retries on with the default policy, but waits of 20–200 ms instead of 2–60 s. */
const RETRY = { minRetryDelayMs: 20, maxRetryDelayMs: 200 };
/** Matches the tracker's default maxBatchSize, so the ceiling encodes batches of the same size. */
export const CEILING_BATCH = 2000;
const GZIP_LEVEL: number = DEFAULTS.gzipLevel; // idstitch's default, so the ceiling compares like with like
/** A repetition that takes longer than this is abandoned by shutdown(): its unsent events show as lost (ms). */
const SHUTDOWN_MS = 60_000;
const TARGET_PER_SECOND = 150_000;

export interface Input {
  name: string;
  properties: Record<string, unknown>;
  identity: { deviceId: string; userId?: string };
}

/** A realistic mix: page views, clicks and sign-ups from 1,000 devices, a third of them signed in. */
export function inputs(count: number): Input[] {
  const devices = Array.from({ length: 1000 }, () => randomUUID());
  const names = ['Viewed Page', 'Clicked CTA', 'Viewed Pricing', 'Signed Up'];
  const paths = ['/', '/pricing', '/docs/getting-started', '/blog/launch', '/signup'];
  return Array.from({ length: count }, (_, i) => ({
    name: names[i % names.length]!,
    properties: {
      path: paths[i % paths.length]!,
      referrer: 'https://www.example.com/',
      plan: i % 3 === 0 ? 'pro' : 'free',
      step: i % 7,
      experiment: 'checkout-b',
    },
    identity: i % 3 === 0 ? { deviceId: devices[i % 1000]!, userId: `user-${i % 5000}` } : { deviceId: devices[i % 1000]! },
  }));
}

export interface DeliveryRun {
  scenario: string;
  repetition: number;
  events: number;
  /** First track() to flush() resolving, ms. */
  totalMs: number;
  /** The synchronous track() loop alone, ms. */
  trackLoopMs: number;
  deliveredPerSecond: number;
  /** Events delivered per second after the track loop returned: the pipeline's drain rate. */
  drainPerSecond: number;
  rssAfterLoopBytes: number;
  tracker: TrackerStats;
  sink: SinkCounts;
  errors: number;
}

export interface DeliveryBenchResult {
  settings: { events: number; repetitions: number; scenarios: Scenario[]; retry: typeof RETRY; gzipLevel: number; pinned: boolean };
  runs: DeliveryRun[];
  summary: Array<{
    scenario: string;
    deliveredPerSecond: Summary;
    drainPerSecond: Summary;
    toCeiling: number;
    /** gzip body bytes sent per event delivered (retries included). */
    gzipBytesPerEvent: number;
    /** Bytes the sink read from its sockets per event: request lines, headers, bodies. */
    wireBytesPerEvent: number;
    /** Uncompressed JSON per event. */
    jsonBytesPerEvent: number;
    requestsPerRun: number;
    retriesPerRun: number;
    lost: number;
    duplicates: number;
  }>;
  ceiling: {
    eventsPerSecond: number;
    stringifyMs: number;
    gzipMs: number;
    events: number;
    jsonBytesPerEvent: number;
    gzipBytesPerEvent: number;
  };
  target: { eventsPerSecond: number; met: boolean };
  checks: string[];
}

async function deliverOnce(
  sink: RemoteSink,
  scenario: Scenario,
  repetition: number,
  batch: readonly Input[],
  checks: string[],
): Promise<DeliveryRun> {
  // Records unchecked: checking them saturated the sink's core before idstitch's (the sink's CPU
  // time was ~95 % of the drain's), so the figure measured the sink. bench/pipeline.ts checks them.
  await sink.reset({ failEvery: scenario.failEvery, checkRecords: false });
  let errors = 0;
  const tracker = createTracker({
    apiHost: sink.url,
    token: 'bench',
    ...RETRY,
    maxQueueSize: batch.length,
    maxQueueBytes: 1024 * 1024 * 1024,
    onError: (_error: IdstitchError) => void errors++,
  });
  const started = performance.now();
  for (const input of batch) tracker.track(input.name, input.properties, input.identity);
  const loopDone = performance.now();
  const rss = process.memoryUsage().rss;
  await tracker.flush();
  const finished = performance.now();
  await tracker.shutdown({ timeoutMs: SHUTDOWN_MS });
  const stats = tracker.stats();
  const counts = await sink.counts();

  const label = repetition < 0 ? `${scenario.name} warm-up` : `${scenario.name} #${repetition + 1}`;
  if (stats.delivered !== batch.length)
    checks.push(`${label}: ${stats.delivered} of ${batch.length} delivered (dropped: ${JSON.stringify(stats.dropped)})`);
  if (counts.events - counts.duplicates !== batch.length)
    checks.push(`${label}: the sink imported ${counts.events - counts.duplicates} distinct events of ${batch.length}`);
  if (counts.duplicates > 0) checks.push(`${label}: the sink saw ${counts.duplicates} duplicate $insert_ids`);
  if (counts.rejected > 0) checks.push(`${label}: the sink rejected ${counts.rejected} records`);
  if (scenario.failEvery > 0 && stats.retries === 0) checks.push(`${label}: no retries although the sink failed requests on purpose`);
  return {
    scenario: scenario.name,
    repetition,
    events: batch.length,
    totalMs: finished - started,
    trackLoopMs: loopDone - started,
    deliveredPerSecond: stats.delivered / ((finished - started) / 1000),
    drainPerSecond: stats.delivered / ((finished - loopDone) / 1000),
    rssAfterLoopBytes: rss,
    tracker: stats,
    sink: counts,
    errors,
  };
}

/** One thread, no I/O: JSON.stringify + gzip of the same events (idstitch's `$insert_id` scheme too) in batches of the tracker's size. */
export function measureCeiling(batch: readonly Input[]): DeliveryBenchResult['ceiling'] {
  const events = batch.map((input) => ({
    event: input.name,
    properties: {
      time: Date.now(),
      distinct_id: '',
      $device_id: input.identity.deviceId,
      ...(input.identity.userId !== undefined ? { $user_id: input.identity.userId } : {}),
      $insert_id: floorInsertId(),
      mp_lib: 'idstitch',
      $lib_version: LIBRARY_VERSION,
      ip: '0',
      ...input.properties,
    },
  }));
  let stringifyMs = 0;
  let gzipMs = 0;
  let jsonBytes = 0;
  let gzipBytes = 0;
  for (let from = 0; from < events.length; from += CEILING_BATCH) {
    const t0 = performance.now();
    const json = Buffer.from(JSON.stringify(events.slice(from, from + CEILING_BATCH)));
    const t1 = performance.now();
    const body = gzipSync(json, { level: GZIP_LEVEL });
    const t2 = performance.now();
    stringifyMs += t1 - t0;
    gzipMs += t2 - t1;
    jsonBytes += json.length;
    gzipBytes += body.length;
  }
  return {
    eventsPerSecond: events.length / ((stringifyMs + gzipMs) / 1000),
    stringifyMs,
    gzipMs,
    events: events.length,
    jsonBytesPerEvent: jsonBytes / events.length,
    gzipBytesPerEvent: gzipBytes / events.length,
  };
}

export async function runDeliveryBench(options: { smoke: boolean; log?: (line: string) => void }): Promise<DeliveryBenchResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const settings = options.smoke ? SMOKE : FULL;
  const pinned = canPin() && pinSelf(0);
  log(
    `delivery: ${num(settings.events)} events per run × ${settings.repetitions} repetition(s) × ${settings.scenarios.length} scenario(s); ${pinned ? 'tracker on core 0, sink on core 1' : 'not pinned'}`,
  );
  const checks: string[] = [];
  const batch = inputs(settings.events);
  const sink = await startSinkProcess(pinned ? 1 : undefined);
  const runs: DeliveryRun[] = [];
  let ceiling: DeliveryBenchResult['ceiling'] | undefined;
  try {
    // Warm-up, not recorded: JIT, the sink's connections, the first batches' code paths.
    measureCeiling(batch.slice(0, 20_000));
    await deliverOnce(sink, CLEAN, -1, batch.slice(0, 20_000), checks);
    const ceilings: Array<DeliveryBenchResult['ceiling']> = [];
    for (let repetition = 0; repetition < settings.repetitions; repetition++) {
      for (const scenario of settings.scenarios) {
        const run = await deliverOnce(sink, scenario, repetition, batch, checks);
        runs.push(run);
        log(
          `  ${scenario.name} #${repetition + 1}: ${num(run.deliveredPerSecond)} events/s (${num(run.totalMs)} ms, track loop ${num(run.trackLoopMs)} ms), ${run.tracker.requests} requests, ${run.tracker.retries} retries`,
        );
      }
      ceilings.push(measureCeiling(batch));
    }
    ceiling = ceilings.sort((a, b) => a.eventsPerSecond - b.eventsPerSecond)[Math.floor(ceilings.length / 2)]!;
  } finally {
    await sink.stop();
  }

  const summary = settings.scenarios.map((scenario) => {
    const mine = runs.filter((run) => run.scenario === scenario.name);
    const delivered = mine.reduce((sum, run) => sum + run.tracker.delivered, 0);
    const perSecond = summarize(mine.map((run) => run.deliveredPerSecond));
    return {
      scenario: scenario.name,
      deliveredPerSecond: perSecond,
      drainPerSecond: summarize(mine.map((run) => run.drainPerSecond)),
      toCeiling: perSecond.median / ceiling.eventsPerSecond,
      gzipBytesPerEvent: mine.reduce((sum, run) => sum + run.tracker.bytesSent, 0) / delivered,
      wireBytesPerEvent: mine.reduce((sum, run) => sum + run.sink.socketBytes, 0) / delivered,
      jsonBytesPerEvent:
        mine.reduce((sum, run) => sum + run.sink.rawBytes, 0) /
        Math.max(
          1,
          mine.reduce((sum, run) => sum + run.sink.events, 0),
        ),
      requestsPerRun: median(mine.map((run) => run.tracker.requests)),
      retriesPerRun: median(mine.map((run) => run.tracker.retries)),
      lost: mine.reduce((sum, run) => sum + run.events - run.tracker.delivered, 0),
      duplicates: mine.reduce((sum, run) => sum + run.sink.duplicates, 0),
    };
  });
  const clean = summary[0]!;
  const result: DeliveryBenchResult = {
    settings: {
      events: settings.events,
      repetitions: settings.repetitions,
      scenarios: settings.scenarios,
      retry: RETRY,
      gzipLevel: GZIP_LEVEL,
      pinned,
    },
    runs,
    summary,
    ceiling,
    target: { eventsPerSecond: TARGET_PER_SECOND, met: clean.deliveredPerSecond.median >= TARGET_PER_SECOND },
    checks,
  };
  log('');
  log(formatDelivery(result));
  return result;
}

export function formatDelivery(result: DeliveryBenchResult): string {
  const rows = result.summary.map((s) => [
    s.scenario,
    num(s.deliveredPerSecond.median),
    `${num(s.deliveredPerSecond.min)}–${num(s.deliveredPerSecond.max)}`,
    num(s.drainPerSecond.median),
    times(s.toCeiling, 2),
    num(s.gzipBytesPerEvent, 1),
    num(s.wireBytesPerEvent, 1),
    num(s.jsonBytesPerEvent, 0),
    num(s.requestsPerRun),
    num(s.retriesPerRun),
    num(s.lost),
  ]);
  const c = result.ceiling;
  const rss = median(result.runs.map((run) => run.rssAfterLoopBytes));
  return [
    `Delivery of ${num(result.settings.events)} events per run, gzip level ${result.settings.gzipLevel}, retries ${result.settings.retry.minRetryDelayMs}–${result.settings.retry.maxRetryDelayMs} ms (median of ${result.settings.repetitions}):`,
    table(
      [
        'scenario',
        'events/s',
        'range',
        'after loop',
        '÷ ceiling',
        'gzip B/event',
        'wire B/event',
        'JSON B/event',
        'requests',
        'retries',
        'lost',
      ],
      rows,
    ),
    `events/s: first track() to flush() resolving; "after loop": delivered ÷ time from the end of the track loop to flush() resolving`,
    `ceiling (one thread, JSON.stringify + gzip of ${num(CEILING_BATCH)}-event batches): ${num(c.eventsPerSecond)} events/s (stringify ${num(c.stringifyMs)} ms + gzip ${num(c.gzipMs)} ms for ${num(c.events)} events; ${num(c.jsonBytesPerEvent)} → ${num(c.gzipBytesPerEvent, 1)} bytes/event)`,
    `target ≥ ${num(result.target.eventsPerSecond)} events/s delivered: ${result.target.met ? 'met' : 'NOT met'} (${percent(result.summary[0]!.deliveredPerSecond.median / result.target.eventsPerSecond - 1, 0)} vs target); RSS after the track loop ${mib(rss)}`,
    result.checks.length
      ? `CHECKS FAILED:\n  ${result.checks.join('\n  ')}`
      : 'checks: every event delivered exactly once, none rejected; retries happened where the sink failed',
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const flags = parseFlags();
  const result = await runDeliveryBench({ smoke: flags.smoke });
  if (flags.json) writeJson(flags.json, result);
  process.exitCode = result.checks.length ? 1 : 0;
}
