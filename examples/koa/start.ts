// Starts the local collector (idstitch/collector: Mixpanel's ingestion API + Simplified ID Merge)
// and the Koa example pointed at it, and prints both URLs.
//
//   npm run example:koa          (builds, then runs: tsx examples/koa/start.ts)
//
// The same settings as `npm start` (examples/start.ts): PORT sets the app's port (default 3000),
// COLLECTOR_PORT the collector's (default 7600), HOST the address both listen on (default
// 127.0.0.1: this machine only), IDSTITCH_DB a SQLite file to keep events across restarts
// (default: in memory). Ctrl-C flushes the tracker and stops both.
import type { AddressInfo } from 'node:net';
import { startCollector } from 'idstitch/collector';
import { createApp } from './app.js';

function port(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) throw new Error(`${name} must be a port number, got ${JSON.stringify(value)}`);
  return parsed;
}

async function main(): Promise<void> {
  const host = process.env.HOST || '127.0.0.1';
  const collector = await startCollector({ port: port('COLLECTOR_PORT', 7600), host, storage: process.env.IDSTITCH_DB || ':memory:' });
  const { app, tracker } = createApp({
    apiHost: collector.url,
    token: 'example-token', // any value: the collector checks tokens only when started with one
    collectorUrl: collector.url,
    // Send within half a second, so the collector's page catches up while you click.
    trackerOptions: { flushIntervalMs: 500 },
  });
  const server = app.listen(port('PORT', 3000), host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port: appPort } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  console.log(`Koa example:  http://${shown}:${appPort}/`);
  console.log(`Collector:    ${collector.url}/   (what Mixpanel would make of the events)`);
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
      .then(() => collector.close())
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
  console.error(error);
  process.exit(1);
});
