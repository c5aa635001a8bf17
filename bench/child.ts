// Child processes for benchmarks: spawn a TypeScript entry (through tsx) pinned to a core, talk to
// it over IPC with a deadline on every answer, and make sure it is gone afterwards.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SinkCounts, SinkOptions } from './sink.js';

/** tsx's loader, resolved once so children work whatever the working directory. */
const TSX = import.meta.resolve('tsx');

let tasksetChecked: boolean | undefined;

/** Whether CPU pinning is possible: `taskset` exists and there are at least two cores to split. */
export function canPin(): boolean {
  tasksetChecked ??= availableParallelism() >= 2 && spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
  return tasksetChecked;
}

/** Pins every thread of this process (libuv's pool included) to `core`. Returns false when not possible. */
export function pinSelf(core: number): boolean {
  if (!canPin()) return false;
  return spawnSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' }).status === 0;
}

export interface SpawnOptions {
  /** Core to pin the child to (all its threads), when pinning is possible. */
  core?: number;
  /** Extra `node` flags, e.g. `--max-old-space-size`. */
  nodeFlags?: readonly string[];
}

/** Starts `node --import tsx <script> ...args` with an IPC channel; stdout and stderr are inherited. */
export function spawnTs(script: string, args: readonly string[], options: SpawnOptions = {}): { child: ChildProcess; pinned: boolean } {
  const nodeArgs = [...(options.nodeFlags ?? []), '--import', TSX, script, ...args];
  const pinned = options.core !== undefined && canPin();
  const child = pinned
    ? spawn('taskset', ['-c', String(options.core), process.execPath, ...nodeArgs], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return { child, pinned };
}

export interface Message {
  type: string;
  [key: string]: unknown;
}

/** Resolves with the child's next message of `type`; rejects if it exits or `timeoutMs` passes first. */
export function nextMessage<T extends Message>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: unknown): void => {
      if ((message as Message | null)?.type !== type) return;
      cleanup();
      resolve(message as T);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`child exited (code ${code}, signal ${signal}) while waiting for "${type}"`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no "${type}" from the child within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Sends `message` and waits for the answer of the same type. */
export function ask<T extends Message>(child: ChildProcess, message: Message, timeoutMs: number): Promise<T> {
  const answer = nextMessage<T>(child, message.type, timeoutMs);
  child.send(message);
  return answer;
}

/** Asks the child to exit, then kills it if it has not within `timeoutMs`. */
export async function stopChild(child: ChildProcess, timeoutMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ type: 'exit' });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
  if ((await Promise.race([exited, deadline])) === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

/**
 * Child side: handles the parent's messages, answers each with the same `type`, and exits on
 * `exit`, when the parent goes away, or after `lifetimeMs` whatever happens.
 */
export function serveParent(handle: (message: Message) => Promise<Message | undefined> | Message | undefined, lifetimeMs: number): void {
  if (!process.send) throw new Error('this script is a benchmark child: start it through its parent script');
  const send = (message: Message): void => {
    process.send?.(message);
  };
  process.on('message', (message: Message) => {
    if (message.type === 'exit') {
      process.disconnect();
      process.exit(0);
    }
    Promise.resolve()
      .then(() => handle(message))
      .then(
        (answer) => send(answer ?? { type: message.type }),
        (error: unknown) => send({ type: message.type, error: (error as Error)?.stack ?? String(error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => {
    process.stderr.write(`bench child ${process.argv[2] ?? ''}: lifetime of ${lifetimeMs} ms reached, exiting\n`);
    process.exit(3);
  }, lifetimeMs).unref();
}

/** The bench sink in its own process (bench/sink-process.ts), pinned to `core` when possible. */
export interface RemoteSink {
  url: string;
  counts(): Promise<SinkCounts>;
  /** CPU time the sink process has used so far (all threads), µs. */
  cpuMicros(): Promise<number>;
  reset(options?: SinkOptions): Promise<void>;
  stop(): Promise<void>;
}

export async function startSinkProcess(core?: number): Promise<RemoteSink> {
  const { child } = spawnTs(new URL('./sink-process.ts', import.meta.url).pathname, [], core === undefined ? {} : { core });
  const ready = await nextMessage<Message & { url: string }>(child, 'ready', 30_000);
  return {
    url: ready.url,
    counts: async () => (await ask<Message & { counts: SinkCounts }>(child, { type: 'counts' }, 10_000)).counts,
    cpuMicros: async () => (await ask<Message & { micros: number }>(child, { type: 'cpu' }, 10_000)).micros,
    reset: async (options) => {
      await ask(child, { type: 'reset', options }, 10_000);
    },
    stop: () => stopChild(child),
  };
}

export interface ScriptOutcome<T> {
  /** Exit code 0 and results written. */
  ok: boolean;
  exitCode: number | null;
  seconds: number;
  result?: T;
  error?: string;
}

/**
 * Runs `node --import tsx <script> ...args --json <tmp>` with stdout and stderr inherited, kills it
 * after `timeoutMs`, and returns what it wrote to the JSON file.
 */
export async function runScript<T>(
  script: string,
  args: readonly string[],
  timeoutMs: number,
  jsonDir = tmpdir(),
): Promise<ScriptOutcome<T>> {
  const json = join(jsonDir, `idstitch-bench.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`);
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', TSX, script, ...args, '--json', json], { stdio: ['ignore', 'inherit', 'inherit'] });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  clearTimeout(timer);
  const seconds = (Date.now() - started) / 1000;
  if (!existsSync(json)) {
    return {
      ok: false,
      exitCode,
      seconds,
      error: timedOut ? `killed after ${timeoutMs / 1000} s` : `exited with code ${exitCode} and wrote no results`,
    };
  }
  const result = JSON.parse(readFileSync(json, 'utf8')) as T;
  rmSync(json, { force: true });
  return {
    ok: exitCode === 0,
    exitCode,
    seconds,
    result,
    ...(exitCode === 0 ? {} : { error: `exited with code ${exitCode} (see its checks)` }),
  };
}
