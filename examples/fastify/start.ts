// Starts the local collector (idstitch/collector: Mixpanel's ingestion API + Simplified ID Merge)
// and the Fastify example pointed at it, and prints both URLs.
//
//   npm run example:fastify      (builds, then runs: tsx examples/fastify/start.ts)
//
// The same settings as `npm start`: PORT, COLLECTOR_PORT, HOST and IDSTITCH_DB (examples/serve.ts).
// Ctrl-C flushes the tracker and stops both.
import { collectorAppOptions, serveExample } from '../serve.js';
import { createApp } from './app.js';

serveExample('Fastify example', async (collector) => {
  const { app, tracker } = await createApp(collectorAppOptions(collector));
  // The app is ready: its Node server listens like any other.
  return { app: { listen: (port: number, host: string) => app.server.listen(port, host) }, tracker };
}).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
