// Runs every benchmark, each in its own process (so pinning, heaps and JIT state never mix), prints
// a summary and the targets (met or missed), and writes every figure with the machine and the
// versions it ran on.
//
//   tsx bench/run.ts            the full run (~25 min on 2 cores) → bench/results/latest.json
//   tsx bench/run.ts --smoke    a short run for CI (~2 min on 2 cores) → bench/results/smoke.json
//
// Exit code 1 when a benchmark failed or one of its correctness checks did (cookies, HTTP errors,
// idstitch events lost or refused); never because of a speed, and never because a peer SDK lost
// events (those are findings, printed and kept in the results).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus, availableParallelism, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runScript, type ScriptOutcome } from './child.js';
import type { DeliveryBenchResult } from './delivery.js';
import { PEER_PACKAGES } from './peers.js';
import type { PipelineBenchResult } from './pipeline.js';
import { num, parseFlags, table, times, writeJson } from './report.js';
import type { RequestCostResult } from './request-cost.js';
import { evaluateTargets, formatTargets } from './targets.js';
import type { TrackBenchResult } from './track.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));

interface BenchSpec {
  name: 'express' | 'koa' | 'fastify' | 'pipeline' | 'track' | 'delivery';
  script: string;
  /** Kill the benchmark after this long (ms): full run, smoke run. */
  timeoutMs: { full: number; smoke: number };
}

const BENCHES: BenchSpec[] = [
  { name: 'express', script: 'express.ts', timeoutMs: { full: 20 * 60_000, smoke: 100_000 } },
  { name: 'koa', script: 'koa.ts', timeoutMs: { full: 20 * 60_000, smoke: 100_000 } },
  { name: 'fastify', script: 'fastify.ts', timeoutMs: { full: 20 * 60_000, smoke: 100_000 } },
  { name: 'pipeline', script: 'pipeline.ts', timeoutMs: { full: 40 * 60_000, smoke: 120_000 } },
  { name: 'track', script: 'track.ts', timeoutMs: { full: 5 * 60_000, smoke: 30_000 } },
  { name: 'delivery', script: 'delivery.ts', timeoutMs: { full: 10 * 60_000, smoke: 40_000 } },
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
      koa: packageVersion('koa'),
      fastify: packageVersion('fastify'),
      ...Object.fromEntries(PEER_PACKAGES.map((name) => [name, packageVersion(name)])),
      autocannon: packageVersion('autocannon'),
      undici: packageVersion('undici'),
      cookie: packageVersion('cookie'),
      tsx: packageVersion('tsx'),
    },
    commit: git(['rev-parse', 'HEAD']),
    dirtyWorkingTree: (git(['status', '--porcelain']) ?? '') !== '',
  };
}

interface Results {
  express?: RequestCostResult;
  koa?: RequestCostResult;
  fastify?: RequestCostResult;
  pipeline?: PipelineBenchResult;
  track?: TrackBenchResult;
  delivery?: DeliveryBenchResult;
}

/** One line per variant and framework: the figures the issue asks for, side by side. */
function requestCostRows(result: RequestCostResult): string[][] {
  return Object.entries(result.summary).map(([variant, s]) => {
    const t = result.totals[variant as keyof typeof result.totals];
    return [
      `${result.framework} ${variant}`,
      num(s.reqPerSec.median),
      times(s.toBare.median),
      `${s.latencyP50Ms} / ${s.latencyP99Ms} ms`,
      `${num(s.pacedP50Ms, 2)} / ${num(s.pacedP99Ms, 1)} ms`,
      variant === 'bare' ? '' : num(s.addedCpuMicros.median),
      `${num(s.maxRssBytes / 1024 / 1024)} MiB`,
      t.received === undefined ? '' : `${num(t.received)} / ${num(t.served)}`,
    ];
  });
}

function headline(results: Results): string {
  const parts: string[] = [];
  const cost = [results.express, results.koa, results.fastify].filter((r): r is RequestCostResult => r !== undefined);
  if (cost.length) {
    parts.push(
      table(
        ['request cost', 'req/s', '÷ bare', 'p50 / p99', 'paced p50 / p99', '+CPU µs/req', 'peak RSS', 'events at sink / served'],
        cost.flatMap(requestCostRows),
      ),
    );
  }
  if (results.pipeline) {
    parts.push(
      table(
        ['pipeline', 'enqueue/s', 'delivered/s', 'requests', 'wire B/event', 'peak RSS', 'lost'],
        results.pipeline.summary.map((s) => [
          `${s.mode} ${s.client}`,
          num(s.enqueuePerSecond.median),
          num(s.deliveredPerSecond.median),
          num(s.requests),
          num(s.wireBytesPerEvent, 1),
          `${num(s.peakRssBytes / 1024 / 1024)} MiB`,
          num(s.lost),
        ]),
      ),
    );
  }
  if (results.track) {
    parts.push(
      table(
        ['per call', 'ns', '÷ floor'],
        results.track.cases.map((c) => [c.name, num(c.ns.median), c.toBaseline ? times(c.toBaseline.median, 2) : '(floor)']),
      ),
    );
  }
  return parts.join('\n\n');
}

async function main(): Promise<void> {
  const flags = parseFlags();
  const smoke = flags.smoke;
  const out = flags.json ?? `${RESULTS}${smoke ? 'smoke' : 'latest'}.json`;
  const startedAt = new Date();
  const loadBefore = loadavg();
  const cpuBefore = cpuTimes();
  console.log(
    `idstitch benchmarks (${smoke ? 'smoke: short, indicative only' : 'full'}), ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, Node ${process.version}, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}\n`,
  );

  mkdirSync(RESULTS, { recursive: true });
  const outcomes: Record<string, ScriptOutcome<unknown>> = {};
  for (const spec of BENCHES) {
    console.log(`── ${spec.name} ${'─'.repeat(60 - spec.name.length)}`);
    outcomes[spec.name] = await runBench(spec, smoke);
    console.log('');
  }
  const cpuAfter = cpuTimes();
  const results = Object.fromEntries(Object.entries(outcomes).map(([name, outcome]) => [name, outcome.result])) as Results;
  const targets = evaluateTargets(results);

  console.log(`── summary ${'─'.repeat(53)}`);
  console.log(headline(results));
  const findings = [results.express, results.koa, results.fastify, results.pipeline].flatMap((r) => r?.findings ?? []);
  if (findings.length) console.log(`\npeers and defaults worth knowing (not failures):\n  ${findings.join('\n  ')}`);
  console.log(`\n── targets${smoke ? ' (smoke run: verdicts are indicative only)' : ''} ${'─'.repeat(smoke ? 12 : 54)}`);
  console.log(formatTargets(targets));
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
    targets,
    benchmarks: Object.fromEntries(
      Object.entries(outcomes).map(([name, outcome]) => [
        name,
        { ok: outcome.ok, seconds: outcome.seconds, error: outcome.error, ...(outcome.result as object) },
      ]),
    ),
  });
  console.log(`\nwrote ${out.startsWith(ROOT) ? out.slice(ROOT.length) : out} in ${num((Date.now() - startedAt.getTime()) / 1000)} s`);
  process.exitCode = failed.length ? 1 : 0;
}

await main();
