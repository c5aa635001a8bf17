// Starts the local collector (idstitch/collector: Mixpanel's ingestion API + Simplified ID Merge)
// and the NestJS example pointed at it, and prints both URLs.
//
//   npm run example:nest         (builds, then runs: tsx examples/nest/start.ts)
//
// The same settings as `npm start`: PORT, COLLECTOR_PORT, HOST and IDSTITCH_DB (examples/serve.ts).
// Ctrl-C flushes the tracker and stops both.
import type { Server } from 'node:http';
import { collectorAppOptions, serveExample } from '../serve.js';
import { createApp } from './app.js';

serveExample('NestJS example', async (collector) => {
  const { app, tracker } = await createApp(collectorAppOptions(collector));
  // The app is initialised: its Node server listens like any other.
  return { app: { listen: (port: number, host: string) => (app.getHttpServer() as Server).listen(port, host) }, tracker };
}).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
