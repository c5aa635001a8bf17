// Pipeline: 100,000 events tracked as fast as possible, then flushed, through idstitch and through
// each peer SDK (bench/peers.ts), all with their defaults (idstitch: gzip, retries and the bounded
// queue on), to the bench sink over loopback. Two producers:
//   chunked  1,000 events, then a turn of the event loop (setImmediate), and again: a busy server
//   burst    all 100,000 in one synchronous loop: what the queue bound and the drop policy do
// mixpanel-node has no queue: its events go through track_batch(), its batch API, one call per
// chunk (one for the burst), the way a caller with many events would use it. `idstitch-sized` (full
// runs only) raises idstitch's queue bounds to hold the whole run, still bounded: how fast the
// pipeline drains when nothing is dropped, next to the peers that never drop (bench/delivery.ts
// measures that alone, with faults).
// Two rates: "delivered/s" to flush() resolving, which is what a caller waiting on flush() gets, and
// "arrived/s" to the last event reaching the sink, which a flush() that waits on a timer does not blur.
// Figures: enqueue rate (events ÷ time inside the tracking calls), delivered events/s (events at the
// sink ÷ time from the first call to flush resolving), HTTP requests, bytes on the wire per event,
// CPU per event (all threads), peak RSS, and events lost (tracked − received) with what the client
// says it dropped. The ceiling is JSON.stringify + gzip of the same events in 2,000-event batches
// on one thread, no I/O (bench/delivery.ts measureCeiling).
//
//   tsx bench/pipeline.ts [--smoke] [--json <path>]
//
// Every run is a fresh process pinned to core 0 (peak RSS is per run; no JIT or heap state carries
// over); the sink runs in its own process on core 1 and is reset before each run; it counts and
// dedupes idstitch's events by $insert_id without checking each record (see bench/delivery.ts).
// Nothing here asserts a speed; the check is that idstitch accounts for every event.
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createTracker, type TrackerStats } from 'idstitch';
import { canPin, pinSelf, runScript, startSinkProcess } from './child.js';
import { CEILING_BATCH, inputs, measureCeiling, type DeliveryBenchResult, type Input } from './delivery.js';
import { createPeer, PEER_ROUTES, PEERS, type Peer } from './peers.js';
import { mib, num, parseFlags, table, times, writeJson } from './report.js';
import type { RouteName } from './sink-routes.js';
import type { SinkCounts } from './sink.js';
import { median, rotate, summarize, type Summary } from './stats.js';

export const CLIENTS = ['idstitch', 'idstitch-sized', ...PEERS] as const;
export type Client = (typeof CLIENTS)[number];
export const MODES = ['chunked', 'burst'] as const;
export type Mode = (typeof MODES)[number];
const ROUTES: Record<Client, RouteName> = { idstitch: 'import', 'idstitch-sized': 'import', ...PEER_ROUTES };

interface Settings {
  events: number;
  chunk: number;
  repetitions: number;
  clients: readonly Client[];
  /** Bound on flush() after the last event (ms): a client still sending then shows its unsent events as lost. */
  finishMs: number;
}
const FULL: Settings = { events: 100_000, chunk: 1000, repetitions: 3, clients: CLIENTS, finishMs: 120_000 };
// 10,000 events fit idstitch's default queue: the sized variant would measure the same thing.
const SMOKE: Settings = {
  events: 10_000,
  chunk: 1000,
  repetitions: 1,
  clients: CLIENTS.filter((client) => client !== 'idstitch-sized'),
  finishMs: 30_000,
};

/** What one run's child process measures itself. */
interface ChildReport {
  client: Client;
  mode: Mode;
  events: number;
  /** Epoch ms of the first call, to compare with the sink's last event. */
  startedAt: number;
  /** Time inside the tracking calls, summed, ms. */
  producerMs: number;
  /** First call to the last call returning (chunked: includes the event-loop turns), ms. */
  loopMs: number;
  /** First call to flush resolving (or giving up), ms. */
  totalMs: number;
  /** flush() had not resolved within finishMs. */
  late: boolean;
  /** CPU time of the process, all threads (gzip runs on libuv's pool), from the first call to flush resolving, µs. */
  cpuMicros: number;
  rssBeforeBytes: number;
  peakRssBytes: number;
  clientErrors: number;
  clientErrorSamples: string[];
  /** idstitch only: its own account of every event. */
  tracker?: TrackerStats;
}

export interface PipelineRun extends ChildReport {
  repetition: number;
  received: number;
  lost: number;
  duplicates: number;
  rejected: number;
  requests: number;
  /** Bytes the sink read from its sockets (request lines, headers, bodies) per event received. */
  wireBytesPerEvent: number;
  /** Request bodies as sent (gzip or not) per event received. */
  bodyBytesPerEvent: number;
  /** Uncompressed bodies per event received. */
  rawBytesPerEvent: number;
  enqueuePerSecond: number;
  deliveredPerSecond: number;
  /** Events at the sink ÷ first call to the last event's arrival. */
  arrivedPerSecond: number;
  cpuMicrosPerEvent: number;
}

export interface PipelineSummary {
  client: Client;
  mode: Mode;
  enqueuePerSecond: Summary;
  deliveredPerSecond: Summary;
  arrivedPerSecond: Summary;
  /** Delivered events/s ÷ the ceiling's events/s. */
  toCeiling: number;
  /** From the last tracking call returning to flush() resolving (median), ms. */
  flushMs: number;
  requests: number;
  wireBytesPerEvent: number;
  bodyBytesPerEvent: number;
  rawBytesPerEvent: number;
  cpuMicrosPerEvent: number;
  peakRssBytes: number;
  /** Peak RSS minus RSS before the first event (the events to track are built before). */
  rssGrowthBytes: number;
  /** Events lost per run (median), and what the client itself reported dropping or failing. */
  lost: number;
  clientDropped: number;
  clientErrors: number;
}

export interface PipelineBenchResult {
  settings: Settings & { pinned: boolean; ceilingBatch: number };
  runs: PipelineRun[];
  summary: PipelineSummary[];
  ceiling: DeliveryBenchResult['ceiling'];
  checks: string[];
  findings: string[];
}

interface Producer {
  produce(events: readonly Input[]): void;
  finish(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
  errors(): number;
  errorSamples(): string[];
  tracker?(): TrackerStats;
}

async function producer(client: Client, sinkUrl: string, events: number): Promise<Producer> {
  if (client === 'idstitch' || client === 'idstitch-sized') {
    const errors: string[] = [];
    const sized = client === 'idstitch-sized' ? { maxQueueSize: events, maxQueueBytes: 1024 * 1024 * 1024 } : {};
    const tracker = createTracker({
      apiHost: sinkUrl,
      token: 'bench',
      logger: false,
      onError: (error) => void errors.push(`${error.code}: ${error.message}`),
      ...sized,
    });
    return {
      produce(events) {
        for (const event of events) tracker.track(event.name, event.properties, event.identity);
      },
      async finish(timeoutMs) {
        await Promise.race([tracker.flush(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
      },
      close: () => tracker.shutdown({ timeoutMs: 5000 }),
      errors: () => errors.length,
      errorSamples: () => [...new Set(errors)].slice(0, 3),
      tracker: () => tracker.stats(),
    };
  }
  const peer = await createPeer(client satisfies Peer, sinkUrl);
  return {
    produce: (events) => peer.trackMany(events),
    finish: (timeoutMs) => peer.flush(timeoutMs),
    close: () => peer.shutdown(5000),
    errors: () => peer.errors(),
    errorSamples: () => peer.errorSamples(),
  };
}

/** Child side: one client, one mode, in this fresh process. */
async function runChild(spec: {
  client: Client;
  mode: Mode;
  events: number;
  chunk: number;
  finishMs: number;
  sinkUrl: string;
}): Promise<ChildReport> {
  pinSelf(0);
  const batch = inputs(spec.events);
  const chunks: Input[][] = [];
  for (let from = 0; from < batch.length; from += spec.chunk) chunks.push(batch.slice(from, from + spec.chunk));
  const client = await producer(spec.client, spec.sinkUrl, spec.events);
  const rssBeforeBytes = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  let producerMs = 0;
  const startedAt = Date.now();
  const started = performance.now();
  if (spec.mode === 'burst') {
    client.produce(batch);
    producerMs = performance.now() - started;
  } else {
    for (const chunk of chunks) {
      const t = performance.now();
      client.produce(chunk);
      producerMs += performance.now() - t;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const loopMs = performance.now() - started;
  let finished = false;
  await Promise.race([
    client.finish(spec.finishMs).then(() => (finished = true)),
    new Promise((resolve) => setTimeout(resolve, spec.finishMs + 2000).unref()),
  ]);
  const totalMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const report: ChildReport = {
    client: spec.client,
    mode: spec.mode,
    events: spec.events,
    startedAt,
    producerMs,
    loopMs,
    totalMs,
    late: !finished || totalMs >= spec.finishMs,
    cpuMicros: cpu.user + cpu.system,
    rssBeforeBytes,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    clientErrors: client.errors(),
    clientErrorSamples: client.errorSamples(),
    ...(client.tracker ? { tracker: client.tracker() } : {}),
  };
  await Promise.race([client.close(), new Promise((resolve) => setTimeout(resolve, 6000).unref())]);
  return report;
}

function droppedBy(report: ChildReport): number {
  return report.tracker ? Object.values(report.tracker.dropped).reduce((sum, n) => sum + n, 0) : 0;
}

export async function runPipelineBench(options: { smoke: boolean; log?: (line: string) => void }): Promise<PipelineBenchResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const settings = options.smoke ? SMOKE : FULL;
  const pinned = canPin();
  log(
    `pipeline: ${num(settings.events)} events per run (chunks of ${num(settings.chunk)} or one burst) × ${settings.clients.length} clients × ${settings.repetitions} repetition(s), each run a fresh process; ${pinned ? 'clients on core 0, sink on core 1' : 'not pinned'}`,
  );
  const script = fileURLToPath(import.meta.url);
  const checks: string[] = [];
  const findings: string[] = [];
  const runs: PipelineRun[] = [];
  const ceilings: Array<DeliveryBenchResult['ceiling']> = [];
  const sink = await startSinkProcess(pinned ? 1 : undefined);
  try {
    for (let repetition = 0; repetition < settings.repetitions; repetition++) {
      const ceiling = await runScript<DeliveryBenchResult['ceiling']>(script, ['--ceiling', String(settings.events)], 5 * 60_000);
      if (ceiling.result) ceilings.push(ceiling.result);
      else checks.push(`ceiling #${repetition + 1}: ${ceiling.error}`);
      for (const mode of MODES) {
        for (const client of rotate(settings.clients, repetition)) {
          // idstitch's records unchecked, as in bench/delivery.ts: strict /import checks (and the
          // $insert_id set) made the sink, not the client, the limit; the peers' routes check little.
          await sink.reset({ checkRecords: false });
          const spec = { client, mode, events: settings.events, chunk: settings.chunk, finishMs: settings.finishMs, sinkUrl: sink.url };
          const outcome = await runScript<ChildReport>(script, ['--run', JSON.stringify(spec)], settings.finishMs + 60_000);
          const counts = await sink.counts();
          if (!outcome.result) {
            checks.push(`${client} ${mode} #${repetition + 1}: ${outcome.error}`);
            continue;
          }
          const run = account(outcome.result, repetition, counts, ROUTES[client], checks, findings);
          runs.push(run);
          log(
            `  #${repetition + 1} ${mode.padEnd(7)} ${client.padEnd(14)} enqueue ${num(run.enqueuePerSecond).padStart(9)}/s  delivered ${num(run.deliveredPerSecond).padStart(7)}/s  arrived ${num(run.arrivedPerSecond).padStart(7)}/s  ${num(run.requests)} requests  ${num(run.wireBytesPerEvent, 1)} B/event  peak RSS ${mib(run.peakRssBytes)}  lost ${num(run.lost)}`,
          );
        }
      }
    }
  } finally {
    await sink.stop();
  }
  const ceiling = ceilings.sort((a, b) => a.eventsPerSecond - b.eventsPerSecond)[Math.floor(ceilings.length / 2)];
  if (!ceiling) throw new Error(`no ceiling measured: ${checks.join('; ')}`);
  const summary = MODES.flatMap((mode) =>
    settings.clients.map((client): PipelineSummary => {
      const mine = runs.filter((run) => run.client === client && run.mode === mode);
      const delivered = summarize(mine.map((run) => run.deliveredPerSecond));
      return {
        client,
        mode,
        enqueuePerSecond: summarize(mine.map((run) => run.enqueuePerSecond)),
        deliveredPerSecond: delivered,
        arrivedPerSecond: summarize(mine.map((run) => run.arrivedPerSecond)),
        toCeiling: delivered.median / ceiling.eventsPerSecond,
        flushMs: median(mine.map((run) => run.totalMs - run.loopMs)),
        requests: median(mine.map((run) => run.requests)),
        wireBytesPerEvent: median(mine.map((run) => run.wireBytesPerEvent)),
        bodyBytesPerEvent: median(mine.map((run) => run.bodyBytesPerEvent)),
        rawBytesPerEvent: median(mine.map((run) => run.rawBytesPerEvent)),
        cpuMicrosPerEvent: median(mine.map((run) => run.cpuMicrosPerEvent)),
        peakRssBytes: median(mine.map((run) => run.peakRssBytes)),
        rssGrowthBytes: median(mine.map((run) => run.peakRssBytes - run.rssBeforeBytes)),
        lost: median(mine.map((run) => run.lost)),
        clientDropped: median(mine.map(droppedBy)),
        clientErrors: median(mine.map((run) => run.clientErrors)),
      };
    }),
  );
  const result: PipelineBenchResult = {
    settings: { ...settings, pinned, ceilingBatch: CEILING_BATCH },
    runs,
    summary,
    ceiling,
    checks,
    findings,
  };
  log('');
  log(formatPipeline(result));
  return result;
}

/** Joins the child's figures with the sink's; idstitch must account for every event, peers' losses are findings. */
function account(
  report: ChildReport,
  repetition: number,
  counts: SinkCounts,
  route: RouteName,
  checks: string[],
  findings: string[],
): PipelineRun {
  const at = counts.routes[route];
  // Distinct events: a client that re-sends a batch the sink had already taken (a timeout) is not delivering more.
  const received = at.events - at.duplicates;
  const label = `${report.client} ${report.mode} #${repetition + 1}`;
  if (at.rejected > 0) checks.push(`${label}: the sink refused ${at.rejected} records`);
  if (counts.unknown > 0) checks.push(`${label}: ${counts.unknown} requests to unknown routes`);
  if (report.tracker) {
    const s = report.tracker;
    // Every event is either delivered or dropped with a reason (the bounded queue drops by design).
    if (s.delivered !== received) checks.push(`${label}: idstitch counted ${s.delivered} delivered, the sink received ${received}`);
    if (s.delivered + droppedBy(report) !== report.events)
      checks.push(
        `${label}: ${report.events} tracked, ${s.delivered} delivered + ${droppedBy(report)} dropped (${JSON.stringify(s.dropped)})`,
      );
    if (at.duplicates > 0) checks.push(`${label}: ${at.duplicates} duplicate $insert_ids at the sink`);
    const dropped = Object.entries(s.dropped).filter(([, n]) => n > 0);
    if (dropped.length) findings.push(`${label}: idstitch dropped ${dropped.map(([reason, n]) => `${num(n)} (${reason})`).join(', ')}`);
  } else if (received !== report.events || report.clientErrors > 0 || report.late || at.duplicates > 0) {
    const samples = report.clientErrorSamples.length ? ` (${report.clientErrorSamples.join('; ')})` : '';
    findings.push(
      `${label}: ${num(received)} of ${num(report.events)} events at the sink, ${num(report.clientErrors)} client errors${samples}${at.duplicates ? `, ${num(at.duplicates)} sent twice` : ''}${report.late ? `, flush still running after ${num(report.totalMs)} ms` : ''}`,
    );
  }
  return {
    ...report,
    repetition,
    received,
    lost: report.events - received,
    duplicates: at.duplicates,
    rejected: at.rejected,
    requests: at.requests,
    wireBytesPerEvent: counts.socketBytes / Math.max(1, received),
    bodyBytesPerEvent: at.bodyBytes / Math.max(1, received),
    rawBytesPerEvent: at.rawBytes / Math.max(1, received),
    enqueuePerSecond: report.events / (report.producerMs / 1000),
    deliveredPerSecond: received / (report.totalMs / 1000),
    arrivedPerSecond: counts.lastEventAt > report.startedAt ? received / ((counts.lastEventAt - report.startedAt) / 1000) : Number.NaN,
    cpuMicrosPerEvent: report.cpuMicros / Math.max(1, received),
  };
}

export function formatPipeline(result: PipelineBenchResult): string {
  const rows = result.summary.map((s) => [
    s.mode,
    s.client,
    num(s.enqueuePerSecond.median),
    num(s.deliveredPerSecond.median),
    num(s.arrivedPerSecond.median),
    times(s.toCeiling, 2),
    num(s.flushMs),
    num(s.requests),
    num(s.wireBytesPerEvent, 1),
    num(s.bodyBytesPerEvent, 1),
    num(s.cpuMicrosPerEvent, 1),
    mib(s.peakRssBytes),
    mib(s.rssGrowthBytes),
    num(s.lost),
    num(s.clientDropped + s.clientErrors),
  ]);
  const c = result.ceiling;
  return [
    `Pipeline: ${num(result.settings.events)} events per run, every client with its defaults (medians of ${result.settings.repetitions}):`,
    table(
      [
        'mode',
        'client',
        'enqueue/s',
        'delivered/s',
        'arrived/s',
        '÷ ceiling',
        'flush ms',
        'requests',
        'wire B/event',
        'body B/event',
        'CPU µs/event',
        'peak RSS',
        'RSS growth',
        'lost',
        'client-reported',
      ],
      rows,
    ),
    `enqueue/s: events ÷ time inside the tracking calls; delivered/s: events at the sink ÷ first call to flush() resolving (÷ ceiling: this one); arrived/s: ÷ first call to the last event at the sink; flush ms: last call returning to flush() resolving; wire: request lines + headers + bodies as read by the sink; CPU: the client process, all threads; lost: tracked − at the sink; client-reported: what the client counted as dropped or failed`,
    `ceiling (one thread, JSON.stringify + gzip of ${num(CEILING_BATCH)}-event batches of idstitch's events, no I/O): ${num(c.eventsPerSecond)} events/s (${num(c.jsonBytesPerEvent)} → ${num(c.gzipBytesPerEvent, 1)} bytes/event)`,
    ...result.findings.map((finding) => `finding: ${finding}`),
    result.checks.length
      ? `CHECKS FAILED:\n  ${result.checks.join('\n  ')}`
      : 'checks: idstitch delivered or accounted for every event, no duplicates; the sink refused no record',
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  // `--run <spec JSON>` and `--ceiling <events>`: one run in this process, for the parent.
  const argv = process.argv.slice(2);
  const take = (flag: string): string | undefined => {
    const at = argv.indexOf(flag);
    return at === -1 ? undefined : argv.splice(at, 2)[1];
  };
  const run = take('--run');
  const ceilingEvents = take('--ceiling');
  const flags = parseFlags(argv);
  if (run !== undefined) {
    const report = await runChild(JSON.parse(run) as Parameters<typeof runChild>[0]);
    if (flags.json) writeJson(flags.json, report);
    // Clients' sockets and timers (segment's flush timer, keep-alive agents) must not hold the run open.
    process.exit(0);
  } else if (ceilingEvents !== undefined) {
    pinSelf(0);
    const batch = inputs(Number(ceilingEvents));
    measureCeiling(batch.slice(0, 20_000)); // warm-up: JIT
    const ceiling = measureCeiling(batch);
    if (flags.json) writeJson(flags.json, ceiling);
  } else {
    const result = await runPipelineBench({ smoke: flags.smoke });
    if (flags.json) writeJson(flags.json, result);
    process.exitCode = result.checks.length ? 1 : 0;
  }
}
