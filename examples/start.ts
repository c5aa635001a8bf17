// Starts the local recording server and the Express example pointed at it, and prints both URLs.
//
//   npm ci && npm run build && npx tsx examples/start.ts
//
// PORT sets the app's port (default 3000), RECORDER_PORT the recording server's (default 7600),
// HOST the address both listen on (default 127.0.0.1: this machine only). Ctrl-C flushes the
// tracker and stops both.
import type { AddressInfo } from 'node:net';
import { createApp } from './express/app.js';
import { startRecordingServer } from './recording-server.js';

function port(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) throw new Error(`${name} must be a port number, got ${JSON.stringify(value)}`);
  return parsed;
}

async function main(): Promise<void> {
  const host = process.env.HOST || '127.0.0.1';
  const recorder = await startRecordingServer({ port: port('RECORDER_PORT', 7600), host });
  const { app, tracker } = createApp({
    apiHost: recorder.url,
    token: 'example-token', // any value: the recording server accepts every token
    recorderUrl: recorder.url,
    // Send within half a second, so the recording page catches up while you click.
    trackerOptions: { flushIntervalMs: 500 },
  });
  const server = app.listen(port('PORT', 3000), host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port: appPort } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  console.log(`Example app:       http://${shown}:${appPort}/`);
  console.log(`Recording server:  ${recorder.url}/`);
  console.log('Press Ctrl-C to stop.');

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: flushing events and stopping…`);
    server.close();
    server.closeAllConnections();
    tracker
      .shutdown({ timeoutMs: 5000 })
      .then(() => recorder.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  const code = (error as NodeJS.ErrnoException)?.code;
  console.error(code === 'EADDRINUSE' ? `A port is already in use (${(error as Error).message}): set PORT or RECORDER_PORT.` : error);
  process.exit(1);
});
