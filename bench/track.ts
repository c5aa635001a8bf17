// What idstitch costs per call on the request path, in ns, against the hand-written floor
// (bench/floor.ts) measured in the same rounds:
//   track   tracker.track(), req.track() anonymous and signed in  vs  building + stringifying the event
//   cookie  the middleware reading a valid cookie / issuing one      vs  the floor's read / issue
//
//   tsx bench/track.ts [--smoke] [--json <path>]
//
// The two groups run in separate processes (see runTrackBench). Trackers point at a local sink (its
// own process, so its parsing and garbage stay out of this heap) with flushAt 2000 and a one-hour
// interval, and each measured chunk tracks 1999 events, so no batch is cut or sent while the clock
// runs; the queue is flushed between chunks, off the clock. (No forced GC between chunks: a forced
// full GC shrinks the young generation and made the next chunk 3-5x slower.) Every round runs every
// case of the group once (best of three chunks), in a rotating order; figures are medians over rounds.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createTracker } from 'idstitch';
import { tracking } from 'idstitch/express';
import { runScript, startSinkProcess } from './child.js';
import { deviceIdFor, eventJson, readDeviceId } from './floor.js';
import { num, parseFlags, table, times, writeJson } from './report.js';
import { median, quantile, rotate, summarize, type Summary } from './stats.js';

/** Events per measured chunk: one below flushAt, so nothing is cut or sent on the clock. */
const TRACK_CHUNK = 1999;
const COOKIE_CHUNK = 10_000;
/** Chunks per case per round; the fastest counts. */
const BEST_OF = 3;

interface Settings {
  rounds: number;
  warmupRounds: number;
  /** Fresh processes per group: JIT decisions differ between processes, so one process can mislead. */
  processes: number;
}
const FULL: Settings = { rounds: 60, warmupRounds: 20, processes: 3 };
const SMOKE: Settings = { rounds: 10, warmupRounds: 10, processes: 1 };

const DEVICE_ID = '0b6f8c1e-2d4a-4f3b-9c5d-7e8f9a0b1c2d';
const COOKIE_HEADER = `_ga=GA1.1.1234567890.1700000000; theme=dark; idstitch_device=${DEVICE_ID}`;
const PROPERTIES = { path: '/pricing', plan: 'pro', referrer: 'https://www.example.com/blog/launch', experiment: 'b' };

/** Just what NodeRequestContext touches on a response, like node:http's. */
class FakeResponse {
  headersSent = false;
  readonly #headers = new Map<string, unknown>();
  getHeader(name: string): unknown {
    return this.#headers.get(name);
  }
  setHeader(name: string, value: unknown): this {
    this.#headers.set(name, value);
    return this;
  }
  writeHead(): this {
    this.headersSent = true;
    return this;
  }
}

function fakeRequest(cookie: string | undefined, user?: { id: string }): IncomingMessage {
  // `secure` as Express sets it; the adapter reads it instead of the socket.
  return { headers: cookie === undefined ? {} : { cookie }, socket: {}, secure: false, user } as unknown as IncomingMessage;
}

type Group = 'track' | 'cookie';

interface Case {
  name: string;
  /** The floor case this one is compared with (none for floors). */
  baseline?: string;
  chunk: number;
  run(i: number): void;
  /** Off the clock, after each chunk. */
  after?(): Promise<void>;
}

export interface CaseResult {
  name: string;
  group: Group;
  baseline: string | undefined;
  /** ns per call, every round of every process pooled. */
  ns: Summary & { p10: number; p90: number };
  /** Per-round ns ÷ the baseline's ns in the same round (same process), pooled and summarised. */
  toBaseline: Summary | undefined;
  /** Each process's median ns, and its median ratio to the baseline. */
  perProcess: Array<{ ns: number; toBaseline: number | undefined }>;
}

/** One process's rounds for one group. */
interface GroupRun {
  group: Group;
  samples: Record<string, number[]>;
  baselines: Record<string, string | undefined>;
  checks: string[];
}

export interface TrackBenchResult {
  settings: Settings & { trackChunk: number; cookieChunk: number };
  eventBytes: number;
  cases: CaseResult[];
  checks: string[];
}

type Track = (event: string, properties?: Record<string, unknown>) => void;

/** The track group: a tracker and the middleware's req.track, each against the floor. */
async function trackCases(checks: string[]): Promise<{ cases: Case[]; finish(total: number): Promise<void> }> {
  const sink = await startSinkProcess();
  // Large flushAt (the maximum: maxBatchSize) and an hour-long interval: nothing leaves during a chunk.
  const quiet = { apiHost: sink.url, token: 'bench', flushAt: 2000, flushIntervalMs: 3_600_000, logger: false as const };
  const tracker = createTracker(quiet);
  const middleware = tracking(quiet);
  const anonymous = fakeRequest(COOKIE_HEADER);
  middleware(anonymous, new FakeResponse() as unknown as ServerResponse);
  const signedIn = fakeRequest(COOKIE_HEADER, { id: 'user-1842' });
  middleware(signedIn, new FakeResponse() as unknown as ServerResponse);
  const anonymousTrack = (anonymous as unknown as { track: Track }).track;
  const signedInTrack = (signedIn as unknown as { track: Track }).track;
  const floor = 'floor: build + JSON.stringify';
  const cases: Case[] = [
    { name: floor, chunk: TRACK_CHUNK, run: () => void (keep += eventJson('Viewed Pricing', DEVICE_ID, undefined, PROPERTIES).length) },
    {
      name: 'tracker.track(event, props, { deviceId })',
      baseline: floor,
      chunk: TRACK_CHUNK,
      run: () => tracker.track('Viewed Pricing', PROPERTIES, { deviceId: DEVICE_ID }),
      after: () => tracker.flush(),
    },
    {
      name: 'req.track(event, props), anonymous',
      baseline: floor,
      chunk: TRACK_CHUNK,
      run: () => anonymousTrack('Viewed Pricing', PROPERTIES),
      after: () => middleware.tracker.flush(),
    },
    {
      name: 'req.track(event, props), signed in',
      baseline: floor,
      chunk: TRACK_CHUNK,
      run: () => signedInTrack('Viewed Pricing', PROPERTIES),
      after: () => middleware.tracker.flush(),
    },
  ];
  return {
    cases,
    async finish(total) {
      const tracked = tracker.stats().tracked + middleware.tracker.stats().tracked;
      const expected = 3 * total * BEST_OF * TRACK_CHUNK;
      await Promise.all([tracker.shutdown({ timeoutMs: 10_000 }), middleware.tracker.shutdown({ timeoutMs: 10_000 })]);
      const received = await sink.counts();
      await sink.stop();
      if (tracked !== expected) checks.push(`tracked ${tracked} events, expected ${expected}`);
      if (received.events !== expected) checks.push(`the sink received ${received.events} events, expected ${expected}`);
      if (received.rejected > 0) checks.push(`the sink rejected ${received.rejected} events`);
    },
  };
}

/** The cookie group: the middleware reading and issuing the device cookie, against the floor. */
function cookieCases(checks: string[]): { cases: Case[]; finish(): Promise<void> } {
  // Nothing is tracked in this group: the tracker behind the middleware never sends.
  const middleware = tracking({ apiHost: 'http://127.0.0.1:9', token: 'bench', logger: false });
  const issued = new FakeResponse();
  middleware(fakeRequest(undefined), issued as unknown as ServerResponse);
  issued.writeHead();
  if (!String(issued.getHeader('set-cookie')).startsWith('idstitch_device='))
    checks.push('tracking() did not issue a cookie to a request without one');
  if (readDeviceId(COOKIE_HEADER) !== DEVICE_ID) checks.push('the floor did not read the device cookie');
  const cases: Case[] = [
    {
      name: 'floor: read a valid cookie',
      chunk: COOKIE_CHUNK,
      run: () => {
        const req = fakeRequest(COOKIE_HEADER);
        keep += deviceIdFor(req.headers.cookie, new FakeResponse()).length;
      },
    },
    {
      name: 'tracking(): read a valid cookie',
      baseline: 'floor: read a valid cookie',
      chunk: COOKIE_CHUNK,
      run: () => {
        const req = fakeRequest(COOKIE_HEADER);
        middleware(req, new FakeResponse() as unknown as ServerResponse);
        keep += (req as unknown as { track: unknown }).track ? 1 : 0;
      },
    },
    {
      name: 'floor: issue a cookie',
      chunk: COOKIE_CHUNK,
      run: () => {
        const req = fakeRequest(undefined);
        const res = new FakeResponse();
        keep += deviceIdFor(req.headers.cookie, res).length;
        res.writeHead();
      },
    },
    {
      name: 'tracking(): issue a cookie',
      baseline: 'floor: issue a cookie',
      chunk: COOKIE_CHUNK,
      run: () => {
        const req = fakeRequest(undefined);
        const res = new FakeResponse();
        middleware(req, res as unknown as ServerResponse);
        res.writeHead(); // the cookie is written when the headers go out
      },
    },
  ];
  return { cases, finish: () => middleware.tracker.shutdown({ timeoutMs: 1000 }) };
}

/** Results fed here so nothing measured can be optimised away. */
let keep = 0;

/** Runs one group's rounds in this process. */
async function runGroup(group: Group, settings: Settings): Promise<GroupRun> {
  const checks: string[] = [];
  const setup = group === 'track' ? await trackCases(checks) : cookieCases(checks);
  const { cases } = setup;
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const total = settings.warmupRounds + settings.rounds;
  for (let round = 0; round < total; round++) {
    for (const c of rotate(cases, round)) {
      // Best of three chunks: a neighbour's burst on a shared machine only ever adds time. Each chunk
      // still pays its own scavenges, so garbage collection stays in the figure.
      let best = Infinity;
      for (let attempt = 0; attempt < BEST_OF; attempt++) {
        const started = process.hrtime.bigint();
        for (let i = 0; i < c.chunk; i++) c.run(i);
        best = Math.min(best, Number(process.hrtime.bigint() - started) / c.chunk);
        if (c.after) await c.after();
      }
      if (round >= settings.warmupRounds) samples.get(c.name)!.push(best);
    }
  }
  await setup.finish(total);
  if (keep === -1) checks.push('unreachable'); // keeps `keep` observable
  return {
    group,
    checks,
    samples: Object.fromEntries(samples),
    baselines: Object.fromEntries(cases.map((c) => [c.name, c.baseline])),
  };
}

/** Pools the rounds of every process for each case; keeps each process's own median too. */
function combine(runs: GroupRun[]): CaseResult[] {
  const first = runs[0];
  if (!first) return [];
  return Object.keys(first.samples).map((name) => {
    const baseline = first.baselines[name];
    const ratios = (run: GroupRun): number[] => (baseline ? run.samples[name]!.map((v, i) => v / run.samples[baseline]![i]!) : []);
    const pooled = runs.flatMap((run) => run.samples[name]!);
    return {
      name,
      group: first.group,
      baseline,
      ns: { ...summarize(pooled), p10: quantile(pooled, 0.1), p90: quantile(pooled, 0.9) },
      toBaseline: baseline ? summarize(runs.flatMap(ratios)) : undefined,
      perProcess: runs.map((run) => ({ ns: median(run.samples[name]!), toBaseline: baseline ? median(ratios(run)) : undefined })),
    };
  });
}

/**
 * Each group runs in its own processes: in one shared heap, the queued events of the track cases and
 * the per-request objects of the cookie cases made scavenges slow (10–24 ms, most objects
 * surviving), and the cost landed on whichever case ran next — the floor included.
 */
export async function runTrackBench(options: { smoke: boolean; log?: (line: string) => void }): Promise<TrackBenchResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const settings = options.smoke ? SMOKE : FULL;
  const script = fileURLToPath(import.meta.url);
  const cases: CaseResult[] = [];
  const checks: string[] = [];
  for (const group of ['track', 'cookie'] as const) {
    const runs: GroupRun[] = [];
    for (let p = 0; p < settings.processes; p++) {
      const outcome = await runScript<GroupRun>(script, ['--group', group, ...(options.smoke ? ['--smoke'] : [])], 5 * 60_000);
      if (outcome.result) runs.push(outcome.result);
      if (!outcome.ok) checks.push(`${group} group, process ${p + 1}: ${outcome.error}`);
      checks.push(...(outcome.result?.checks ?? []));
    }
    cases.push(...combine(runs));
  }
  const result: TrackBenchResult = {
    settings: { ...settings, trackChunk: TRACK_CHUNK, cookieChunk: COOKIE_CHUNK },
    eventBytes: eventJson('Viewed Pricing', DEVICE_ID, undefined, PROPERTIES).length,
    cases,
    checks,
  };
  log(formatTrack(result));
  return result;
}

export function formatTrack(result: TrackBenchResult): string {
  const rows = result.cases.map((c) => [
    c.name,
    num(c.ns.median),
    `${num(c.ns.p10)}–${num(c.ns.p90)}`,
    c.toBaseline ? times(c.toBaseline.median, 2) : '(baseline)',
    c.perProcess.map((p) => (p.toBaseline === undefined ? num(p.ns) : `${num(p.ns)} (${times(p.toBaseline, 2)})`)).join(', '),
  ]);
  const s = result.settings;
  return [
    `Per call: ${s.processes} process(es) per group × ${s.rounds} rounds, each round the best of ${BEST_OF} chunks of ${s.trackChunk} tracks / ${s.cookieChunk} cookie operations; event JSON ${result.eventBytes} bytes:`,
    table(['case', 'ns/call', 'p10–p90', '÷ floor', 'per process: ns (÷ floor)'], rows),
    result.checks.length
      ? `CHECKS FAILED:\n  ${result.checks.join('\n  ')}`
      : 'checks: every tracked event reached the sink, none rejected; both sides read and issue the cookie',
  ].join('\n');
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  // `--group <track|cookie>`: run one group here, silently, for the parent process.
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--group');
  const group = at === -1 ? undefined : (argv.splice(at, 2)[1] as Group | undefined);
  if (group !== undefined && group !== 'track' && group !== 'cookie') throw new Error(`--group must be track or cookie, got ${group}`);
  const flags = parseFlags(argv);
  const result = group ? await runGroup(group, flags.smoke ? SMOKE : FULL) : await runTrackBench({ smoke: flags.smoke });
  if (flags.json) writeJson(flags.json, result);
  process.exitCode = result.checks.length ? 1 : 0;
}
