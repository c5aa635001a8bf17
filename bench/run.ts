// Runs every benchmark, each in its own process (so pinning, heaps and JIT state never mix), prints
// a summary and writes every figure with the machine it ran on.
//
//   tsx bench/run.ts            the full run (a few minutes) → bench/results/latest.json
//   tsx bench/run.ts --smoke    a short run for CI (< 60 s on 2 cores) → bench/results/smoke.json
//
// Exit code 1 when a benchmark failed or one of its correctness checks did (cookies, lost or
// rejected events); never because of a speed. Speeds are ratios against baselines of the same run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus, availableParallelism, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runScript, type ScriptOutcome } from './child.js';
import type { DeliveryBenchResult } from './delivery.js';
import type { ExpressBenchResult } from './express.js';
import { num, parseFlags, table, times, writeJson } from './report.js';
import type { TrackBenchResult } from './track.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

interface BenchSpec {
  name: 'express' | 'track' | 'delivery';
  script: string;
  /** Kill the benchmark after this long (ms): full run, smoke run. */
  timeoutMs: { full: number; smoke: number };
}

const BENCHES: BenchSpec[] = [
  { name: 'express', script: 'express.ts', timeoutMs: { full: 15 * 60_000, smoke: 45_000 } },
  { name: 'track', script: 'track.ts', timeoutMs: { full: 5 * 60_000, smoke: 20_000 } },
  { name: 'delivery', script: 'delivery.ts', timeoutMs: { full: 10 * 60_000, smoke: 30_000 } },
];

async function runBench<T>(spec: BenchSpec, smoke: boolean): Promise<ScriptOutcome<T>> {
  const script = fileURLToPath(new URL(`./${spec.script}`, import.meta.url));
  return runScript<T>(script, smoke ? ['--smoke'] : [], smoke ? spec.timeoutMs.smoke : spec.timeoutMs.full, RESULTS);
}

function packageVersion(name: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(`${ROOT}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/** Aggregate CPU time counters from /proc/stat (Linux), to report steal and how busy the machine was. */
function cpuTimes(): { busy: number; steal: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    return { busy: user + nice + system + irq + softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
  } catch {
    return undefined;
  }
}

function machine(): Record<string, unknown> {
  const ownPackage = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
  const git = (args: string[]): string | undefined => {
    const out = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    return out.status === 0 ? out.stdout.trim() : undefined;
  };
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    os: `${process.platform} ${release()} ${process.arch}`,
    node: process.version,
    v8: process.versions.v8,
    packages: {
      idstitch: ownPackage.version,
      express: packageVersion('express'),
      autocannon: packageVersion('autocannon'),
      undici: packageVersion('undici'),
      cookie: packageVersion('cookie'),
      tsx: packageVersion('tsx'),
    },
    commit: git(['rev-parse', 'HEAD']),
    dirtyWorkingTree: (git(['status', '--porcelain']) ?? '') !== '',
  };
}

function headline(express?: ExpressBenchResult, track?: TrackBenchResult, delivery?: DeliveryBenchResult): string {
  const rows: Array<[string, string, string]> = [];
  if (express) {
    const s = express.summary.idstitch;
    rows.push(['express: idstitch ÷ floor (req/s, same round)', times(s.toFloor.median), 'target ≥ 0.950×']);
    rows.push(['express: idstitch ÷ bare', times(s.toBare.median), '']);
    rows.push(['express: server CPU µs per request, idstitch ÷ floor', times(s.cpuToFloor.median), `${num(s.cpuMicrosPerRequest)} vs ${num(express.summary.floor.cpuMicrosPerRequest)} µs`]);
    rows.push(['express: idstitch req/s (median)', num(s.reqPerSec.median), `floor ${num(express.summary.floor.reqPerSec.median)}, bare ${num(express.summary.bare.reqPerSec.median)}`]);
    rows.push(['express: events received / requests served', `${num(express.totals.idstitch.received ?? 0)} / ${num(express.totals.idstitch.served)}`, `lost ${num(express.totals.idstitch.lost ?? 0)}`]);
  }
  if (track) {
    for (const c of track.cases.filter((c) => c.baseline)) rows.push([`track: ${c.name}`, `${num(c.ns.median)} ns`, `${times(c.toBaseline!.median, 2)} the floor`]);
  }
  if (delivery) {
    const clean = delivery.summary[0]!;
    rows.push(['delivery: events/s (first track → flush resolved)', num(clean.deliveredPerSecond.median), `target ≥ ${num(delivery.target.eventsPerSecond)}: ${delivery.target.met ? 'met' : 'NOT met'}`]);
    rows.push(['delivery: ÷ one-thread stringify+gzip ceiling', times(clean.toCeiling, 2), `ceiling ${num(delivery.ceiling.eventsPerSecond)} events/s`]);
    rows.push(['delivery: bytes on the wire per event', num(clean.wireBytesPerEvent, 1), `gzip body ${num(clean.gzipBytesPerEvent, 1)}, JSON ${num(clean.jsonBytesPerEvent)}`]);
  }
  return table(['figure', 'value', 'context'], rows);
}

async function main(): Promise<void> {
  const flags = parseFlags();
  const smoke = flags.smoke;
  const out = flags.json ?? `${RESULTS}${smoke ? 'smoke' : 'latest'}.json`;
  const startedAt = new Date();
  const loadBefore = loadavg();
  const cpuBefore = cpuTimes();
  console.log(`idstitch benchmarks (${smoke ? 'smoke: short, indicative only' : 'full'}), ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}\n`);

  mkdirSync(RESULTS, { recursive: true });
  const outcomes: Record<string, ScriptOutcome<unknown>> = {};
  for (const spec of BENCHES) {
    console.log(`── ${spec.name} ${'─'.repeat(60 - spec.name.length)}`);
    outcomes[spec.name] = await runBench(spec, smoke);
    console.log('');
  }
  const cpuAfter = cpuTimes();
  const express = outcomes.express?.result as ExpressBenchResult | undefined;
  const track = outcomes.track?.result as TrackBenchResult | undefined;
  const delivery = outcomes.delivery?.result as DeliveryBenchResult | undefined;

  console.log(`── summary ${'─'.repeat(53)}`);
  console.log(headline(express, track, delivery));
  const failed = Object.entries(outcomes).filter(([, outcome]) => !outcome.ok);
  for (const [name, outcome] of failed) console.log(`FAILED: ${name}: ${outcome.error}`);

  const loadAfter = loadavg();
  const span = cpuBefore && cpuAfter ? cpuAfter.total - cpuBefore.total : 0;
  writeJson(out, {
    mode: smoke ? 'smoke' : 'full',
    date: startedAt.toISOString(),
    durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
    machine: {
      ...machine(),
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadAfter,
      // Over the whole run, all cores: how busy the machine was (our own load included) and hypervisor steal.
      busyShare: span ? (cpuAfter!.busy - cpuBefore!.busy) / span : undefined,
      stealShare: span ? (cpuAfter!.steal - cpuBefore!.steal) / span : undefined,
    },
    benchmarks: Object.fromEntries(Object.entries(outcomes).map(([name, outcome]) => [name, { ok: outcome.ok, seconds: outcome.seconds, error: outcome.error, ...(outcome.result as object) }])),
  });
  console.log(`\nwrote ${out.startsWith(ROOT) ? out.slice(ROOT.length) : out} in ${num((Date.now() - startedAt.getTime()) / 1000)} s`);
  process.exitCode = failed.length ? 1 : 0;
}

await main();
