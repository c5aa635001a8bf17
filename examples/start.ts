// Starts the local collector (idstitch/collector: Mixpanel's ingestion API + Simplified ID Merge)
// and the Express example pointed at it, and prints both URLs.
//
//   npm ci && npm start          (npm start builds, then runs: tsx examples/start.ts)
//
// PORT, COLLECTOR_PORT, HOST and IDSTITCH_DB change the defaults (examples/serve.ts). Ctrl-C
// flushes the tracker and stops both.
import { createApp } from './express/app.js';
import { serveExample } from './serve.js';

serveExample('Example app', (collector) =>
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
