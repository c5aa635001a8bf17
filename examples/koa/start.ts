// Starts the local collector (idstitch/collector: Mixpanel's ingestion API + Simplified ID Merge)
// and the Koa example pointed at it, and prints both URLs.
//
//   npm run example:koa          (builds, then runs: tsx examples/koa/start.ts)
//
// The same settings as `npm start`: PORT, COLLECTOR_PORT, HOST and IDSTITCH_DB (examples/serve.ts).
// Ctrl-C flushes the tracker and stops both.
import { serveExample } from '../serve.js';
import { createApp } from './app.js';

serveExample('Koa example', (collector) =>
  createApp({
    apiHost: collector.url,
    token: 'example-token', // any value: the collector checks tokens only when started with one
    collectorUrl: collector.url,
    // Send within half a second, so the collector's page catches up while you click.
    trackerOptions: { flushIntervalMs: 500 },
  }),
).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
