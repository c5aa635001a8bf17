/**
 * Runs a script from test/fixtures/lifecycle/ in its own `node` process, as an app would run: it
 * imports the built package (`idstitch`, i.e. dist/; `npm test` builds first). The script talks in
 * JSON lines on stdout; the test waits on those lines and on the exit, never on sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Message {
  type?: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** `performance.now()` at exit, in ms. */
  at: number;
}

export interface Fixture {
  readonly process: ChildProcess;
  /** Everything written to stderr, for assertion messages. */
  stderr(): string;
  /** The next stdout line (as JSON) of `type`, with `performance.now()` when it arrived; rejects after `timeoutMs` or on exit. */
  message<T extends Message>(type: string | undefined, timeoutMs: number): Promise<T & { receivedAt: number }>;
  /** Resolves on exit; after `timeoutMs` kills the process and resolves `'still running'`. */
  exit(timeoutMs: number): Promise<Exit | 'still running'>;
}

export function runFixture(name: string, env: Record<string, string>, nodeFlags: readonly string[] = []): Fixture {
  const script = fileURLToPath(new URL(`../fixtures/lifecycle/${name}`, import.meta.url));
  const child = spawn(process.execPath, [...nodeFlags, script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines: Array<Message & { receivedAt: number }> = [];
  const listeners = new Set<() => void>();
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      try {
        lines.push({ ...(JSON.parse(line) as Message), receivedAt: performance.now() });
      } catch {
        lines.push({ type: 'text', text: line, receivedAt: performance.now() });
      }
    }
    for (const listener of listeners) listener();
  });
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })));

  return {
    process: child,
    stderr: () => stderr,
    message<T extends Message>(type: string | undefined, timeoutMs: number) {
      return new Promise<T & { receivedAt: number }>((resolve, reject) => {
        const check = (): void => {
          const found = lines.find((line) => type === undefined || line.type === type);
          if (!found) return;
          done();
          resolve(found as T & { receivedAt: number });
        };
        const done = (): void => {
          listeners.delete(check);
          clearTimeout(timer);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: no ${type ?? 'line'} on stdout within ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        void exited.then(() => {
          // Lines written just before exit arrive before 'exit'; give the last data event its turn.
          setImmediate(() => {
            check();
            if (listeners.has(check)) {
              done();
              reject(new Error(`${name} exited before writing ${type ?? 'a line'}; stderr: ${stderr}`));
            }
          });
        });
        listeners.add(check);
        check();
      });
    },
    async exit(timeoutMs: number) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), timeoutMs)));
      const outcome = await Promise.race([exited, deadline]);
      clearTimeout(timer);
      if (outcome === 'still running') {
        child.kill('SIGKILL');
        await exited;
      }
      return outcome;
    },
  };
}
