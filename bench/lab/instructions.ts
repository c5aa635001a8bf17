// Instructions per request, counted by callgrind: a figure that does not move with the machine's
// load, for changes smaller than the run-to-run noise of req/s. The window is long because Express
// promotes most of each request to V8's old generation, which it then collects whole about every
// 4,000 requests here: over 4,000 requests, one variant's window held such a collection and
// another's did not, and the same build measured 4 to 9 % above its 30,000-request figure. Over
// 30,000, the same code measured twice (its ESM and CommonJS builds) came within 0.5 %. Each
// Express variant of bench/lab/instructions-server.ts runs under valgrind on core 0; after
// a warm-up, callgrind counts every instruction the server executes (all threads: GC, JIT, zlib)
// while autocannon sends a fixed number of requests with the request-cost mix (50 connections,
// 1 in 10 a new visitor), idstitch's events delivered to the sink included.
//
//   npm run bench:instructions [-- --smoke]      needs valgrind: apt-get install -y valgrind
import autocannon from 'autocannon';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { canPin, pinSelf, startSinkProcess } from '../child.js';
import { requestMix } from '../request-cost.js';
import { num, table, times } from '../report.js';

const SERVER = new URL('./instructions-server.ts', import.meta.url).pathname;
/** bare, floor and idstitch as in the request-cost bench; layer: bare behind one empty middleware. */
const INSTRUCTION_VARIANTS = ['bare', 'floor', 'layer', 'idstitch'] as const;
const TSX = import.meta.resolve('tsx');
const smoke = process.argv.includes('--smoke');
const WARMUP = smoke ? 300 : 6000;
const MEASURED = smoke ? 300 : 30_000;

interface Running {
  child: ChildProcess;
  lines: AsyncIterator<string>;
  url: string;
}

async function nextJson(running: Pick<Running, 'lines'>, key: string): Promise<Record<string, unknown>> {
  for (;;) {
    const { value, done } = await running.lines.next();
    if (done) throw new Error(`the server exited while waiting for "${key}"`);
    if (!value.startsWith('{')) continue;
    const message = JSON.parse(value) as Record<string, unknown>;
    if (key in message) return message;
  }
}

function sendRequests(url: string, amount: number, pool: readonly string[]): Promise<autocannon.Result> {
  return autocannon({ url, connections: 50, amount, timeout: 120, requests: requestMix(pool) });
}

function control(pid: number, ...args: string[]): void {
  const done = spawnSync('callgrind_control', [...args, String(pid)], { encoding: 'utf8' });
  if (done.status !== 0) throw new Error(`callgrind_control ${args.join(' ')} failed: ${done.stderr || done.stdout}`);
}

async function measure(variant: string, sinkUrl: string, pool: readonly string[]): Promise<number> {
  const out = join(tmpdir(), `idstitch-callgrind.${process.pid}.${variant}`);
  const valgrind = [
    'valgrind',
    '--tool=callgrind',
    '--instr-atstart=no',
    '--cache-sim=no',
    `--callgrind-out-file=${out}`,
    process.execPath,
    '--import',
    TSX,
    SERVER,
    variant,
    sinkUrl,
  ];
  const command = canPin() ? ['taskset', '-a', '-c', '0', ...valgrind] : valgrind;
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const running = { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator]() };
  try {
    const { port } = await nextJson(running, 'port').catch((error: Error) => {
      throw new Error(`${error.message}\n${stderr}`);
    });
    const url = `http://127.0.0.1:${port as number}`;
    await sendRequests(url, WARMUP, pool);
    child.kill('SIGUSR2');
    await nextJson(running, 'flushed');
    control(child.pid!, '--instr=on');
    control(child.pid!, '--zero');
    const result = await sendRequests(url, MEASURED, pool);
    if (result['2xx'] !== MEASURED) throw new Error(`${variant}: ${result['2xx']} of ${MEASURED} requests answered 2xx`);
    child.kill('SIGUSR2');
    await nextJson(running, 'flushed');
    control(child.pid!, '--dump');
    let total = 0;
    for (const file of readdirSync(dirname(out)).filter((name) => name.startsWith(basename(out)))) {
      const totals = /^totals: (\d+)/m.exec(readFileSync(join(dirname(out), file), 'utf8'));
      if (totals) total += Number(totals[1]);
    }
    return total / MEASURED;
  } finally {
    child.kill('SIGKILL');
    for (const file of readdirSync(dirname(out)).filter((name) => name.startsWith(basename(out))))
      rmSync(join(dirname(out), file), { force: true });
  }
}

async function main(): Promise<void> {
  for (const tool of ['valgrind', 'callgrind_control']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) {
      const message = `bench/lab/instructions.ts: ${tool} is missing (apt-get install -y valgrind)`;
      // .ci/run installs it and sets IDSTITCH_REQUIRE_VALGRIND: there, a missing tool is a failure.
      if (process.env.IDSTITCH_REQUIRE_VALGRIND) throw new Error(message);
      console.log(`${message}: skipped`);
      return;
    }
  }
  pinSelf(1);
  const sink = await startSinkProcess(canPin() ? 1 : undefined);
  const pool = Array.from({ length: 30 }, () => randomUUID());
  const counts: Record<string, number> = {};
  try {
    for (const variant of INSTRUCTION_VARIANTS) {
      counts[variant] = await measure(variant, sink.url, pool);
      console.log(`  ${variant.padEnd(9)} ${num(counts[variant]!)} instructions per request`);
    }
  } finally {
    await sink.stop();
  }
  console.log(
    `\nExpress 5 hello-world under callgrind: instructions per request over ${num(MEASURED)} requests after ${num(WARMUP)} of warm-up${smoke ? ' (smoke: too few to mean much)' : ''}`,
  );
  console.log(
    table(
      ['variant', 'instructions/request', '− bare', '÷ floor'],
      INSTRUCTION_VARIANTS.map((variant) => [
        variant,
        num(counts[variant]!),
        variant === 'bare' ? '' : num(counts[variant]! - counts.bare!),
        times(counts[variant]! / counts.floor!),
      ]),
    ),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
