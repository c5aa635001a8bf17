// What the examples' start scripts share: ports from the environment, the local collector, and a
// clean stop (flush, then close) on Ctrl-C or SIGTERM.
//
// PORT sets the app's port (default 3000), COLLECTOR_PORT the collector's (default 7600), HOST the
// address both listen on (default 127.0.0.1: this machine only), IDSTITCH_DB a SQLite file to keep
// events across restarts (default: in memory).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startCollector, type Collector } from 'idstitch/collector';
import type { Tracker } from 'idstitch';

export function port(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535)
    throw new Error(`${name} must be a port number, got ${JSON.stringify(value)}`);
  return parsed;
}

export const host = process.env.HOST || '127.0.0.1';

/** The host as a URL shows it (IPv6 in brackets). */
export const shownHost = host.includes(':') ? `[${host}]` : host;

export function startLocalCollector(): Promise<Collector> {
  return startCollector({ port: port('COLLECTOR_PORT', 7600), host, storage: process.env.IDSTITCH_DB || ':memory:' });
}

/** An example app as its `createApp` returns it: something that listens, and its tracker. */
export interface ExampleServer {
  app: { listen(port: number, host: string): Server };
  tracker: Tracker;
}

/**
 * Starts the collector and the app `create` builds against it, prints both URLs, and on Ctrl-C
 * or SIGTERM flushes the tracker (5 s at most) and stops both.
 */
export async function serveExample(label: string, create: (collector: Collector) => ExampleServer | Promise<ExampleServer>): Promise<void> {
  const collector = await startLocalCollector();
  const { app, tracker } = await create(collector);
  const server = app.listen(port('PORT', 3000), host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port: appPort } = server.address() as AddressInfo;
  console.log(`${`${label}:`.padEnd(13)} http://${shownHost}:${appPort}/`);
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

/** The options every example app gets against the local collector. */
export function collectorAppOptions(collector: Collector): {
  apiHost: string;
  token: string;
  collectorUrl: string;
  trackerOptions: { flushIntervalMs: number };
} {
  return {
    apiHost: collector.url,
    token: 'example-token', // any value: the collector checks tokens only when started with one
    collectorUrl: collector.url,
    // Send within half a second, so the collector's page catches up while you click.
    trackerOptions: { flushIntervalMs: 500 },
  };
}
