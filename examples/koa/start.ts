// Starts the local collector (idstitch/collector: Mixpanel's ingestion API + Simplified ID Merge)
// and the Koa example pointed at it, and prints both URLs.
//
//   npm run example:koa          (builds, then runs: tsx examples/koa/start.ts)
//
// The same settings as `npm start`: PORT, COLLECTOR_PORT, HOST and IDSTITCH_DB (examples/serve.ts).
// Ctrl-C flushes the tracker and stops both.
import { collectorAppOptions, serveExample } from '../serve.js';
import { createApp } from './app.js';

serveExample('Koa example', (collector) => createApp(collectorAppOptions(collector))).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
