// Starts the local collector (idstitch/collector: Mixpanel's ingestion API + Simplified ID Merge)
// and the Express example pointed at it, and prints both URLs.
//
//   npm ci && npm start          (npm start builds, then runs: tsx examples/start.ts)
//
// PORT, COLLECTOR_PORT, HOST and IDSTITCH_DB change the defaults (examples/serve.ts). Ctrl-C
// flushes the tracker and stops both.
import { createApp } from './express/app.js';
import { collectorAppOptions, serveExample } from './serve.js';

serveExample('Example app', (collector) => createApp(collectorAppOptions(collector))).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
