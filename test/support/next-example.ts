// Builds and serves examples/next for the end-to-end test: `next build` once, then `next start` on a
// free loopback port, as a child process whose output is kept for failure messages. Plus a cookie
// jar, since Node's fetch keeps no cookies between requests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';

export const EXAMPLE_DIR = new URL('../../examples/next/', import.meta.url).pathname;
const NEXT_BIN = createRequire(import.meta.url).resolve('next/dist/bin/next');

/** Environment for Next: no telemetry (nothing leaves this machine) and no inherited Next settings. */
function nextEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...extra };
  delete env.NODE_ENV; // next sets it per command, and vitest's 'test' would leak into the build
  delete env.MIXPANEL_TOKEN;
  return env as NodeJS.ProcessEnv;
}

/** Runs `next build` on the example; rejects with its output when it fails. */
export function buildExample(): Promise<{ ms: number; output: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NEXT_BIN, 'build', EXAMPLE_DIR], { env: nextEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve({ ms: performance.now() - started, output });
      else reject(new Error(`next build exited with ${code}:\n${output}`));
    });
  });
}

export interface RunningExample {
  readonly url: string;
  /** Everything the server printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `next start` on a free port of 127.0.0.1 and resolves once it answers. */
export async function startExample(env: Record<string, string>): Promise<RunningExample> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [NEXT_BIN, 'start', EXAMPLE_DIR, '--port', String(port), '--hostname', '127.0.0.1'], {
    env: nextEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}:\n${output}`);
    if (/Ready in/.test(output)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`next start was not ready within 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, output: () => output, stop };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A browser's cookies for one site: what it sends, updated from each response's Set-Cookie. */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** Applies a response's Set-Cookie lines; an empty value, `Max-Age=0` or a past `Expires` deletes. */
  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some(
        (a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()),
      );
      if (value === '' || expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
}

/** Like a browser without JavaScript: fetch with this jar's cookies, keep what comes back, no redirect following. */
export async function visit(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const cookie = jar.header();
  if (cookie) headers.set('cookie', cookie);
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.take(response);
  return response;
}

/**
 * Submits the page's Server Action form the way a browser without JavaScript does: Next renders
 * each such form with a hidden `$ACTION_ID_<id>` field and expects it back, multipart-encoded.
 * `index` picks the form when there are several (the header's log-out form comes first).
 */
export async function submitActionForm(jar: CookieJar, pageUrl: string, fields: Record<string, string>, index = 0): Promise<Response> {
  const html = await (await visit(jar, pageUrl)).text();
  const ids = [...html.matchAll(/name="(\$ACTION_ID_[0-9a-f]+)"/g)].map((match) => match[1]!);
  const actionId = ids[index];
  if (actionId === undefined) throw new Error(`no Server Action form #${index} on ${pageUrl}`);
  const form = new FormData();
  form.set(actionId, '');
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  return visit(jar, pageUrl, { method: 'POST', body: form });
}
