// Starts the local collector (idstitch/collector: Mixpanel's ingestion API + Simplified ID Merge) and
// the Next.js example pointed at it, and prints both URLs.
//
//   npm run example:next             (builds idstitch, then: tsx examples/next/start.ts)
//   npm run example:next -- --dev    (next dev instead of next build + next start)
//
// PORT sets the app's port (default 3000), COLLECTOR_PORT the collector's (default 7600), HOST the
// address both listen on (default 127.0.0.1: this machine only), IDSTITCH_DB a SQLite file to keep
// events across restarts (default: in memory). Ctrl-C stops both.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { host, port, shownHost, startLocalCollector } from '../serve.js';

const dir = new URL('.', import.meta.url).pathname;
const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');

/** Runs `next <args>` in the example; resolves with its exit code. */
function next(args: string[], env: NodeJS.ProcessEnv): { exited: Promise<number | null>; stop: () => void } {
  const child = spawn(process.execPath, [nextBin, ...args], { cwd: dir, env, stdio: 'inherit' });
  return {
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    stop: () => void child.kill('SIGTERM'),
  };
}

async function main(): Promise<void> {
  const dev = process.argv.includes('--dev');
  const collector = await startLocalCollector();
  // The app reads these when its tracker starts (examples/next/lib/tracking.ts); nothing leaves this machine.
  // NEXT_MANUAL_SIG_HANDLE: instrumentation.ts flushes the tracker on SIGTERM, then exits.
  const env = {
    ...process.env,
    IDSTITCH_API_HOST: collector.url,
    NEXT_TELEMETRY_DISABLED: '1',
    NEXT_MANUAL_SIG_HANDLE: 'true',
  } as NodeJS.ProcessEnv;
  console.log(`Collector:    ${collector.url}/   (what Mixpanel would make of the events)`);

  if (!dev) {
    console.log('Building the example (next build)…');
    const built = await next(['build'], env).exited;
    if (built !== 0) {
      await collector.close();
      process.exit(built ?? 1);
    }
  }
  const app = next([dev ? 'dev' : 'start', '--port', String(port('PORT', 3000)), '--hostname', host], env);
  console.log(`Example app:  http://${shownHost}:${port('PORT', 3000)}/   (Ctrl-C to stop)`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    app.stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const code = await app.exited;
  await collector.close();
  process.exit(stopping ? 0 : (code ?? 1));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
