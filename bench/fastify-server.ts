// Child process of bench/request-cost.ts: one Fastify 5 hello-world variant (bench/server-variants.ts)
// on 127.0.0.1, driven by the parent over IPC.
//
//   node --import tsx bench/fastify-server.ts <variant> <sink url>
import Fastify from 'fastify';
import { tracking } from 'idstitch/fastify';
import { dieWith, EVENT_NAME, HELLO, idstitchOptions, routeWork, serveVariant, serverArgs, type Backend } from './server-variants.js';

async function main(): Promise<void> {
  const { variant, sinkUrl } = serverArgs();
  let routeHits = 0;
  let backend: Backend | undefined;
  const app = Fastify();
  if (variant === 'idstitch') {
    await app.register(tracking, idstitchOptions(sinkUrl));
    const tracker = app.idstitch;
    backend = {
      flush: () => tracker.flush(),
      async drain(timeoutMs) {
        await tracker.shutdown({ timeoutMs });
        return { tracker: tracker.stats() };
      },
    };
    app.get('/', async (request) => {
      routeHits++;
      request.track(EVENT_NAME, { path: '/' });
      return HELLO;
    });
  } else {
    const work = await routeWork(variant, sinkUrl);
    backend = work?.backend;
    app.get('/', async (request, reply) => {
      routeHits++;
      // reply.raw: the floor and the peers write Set-Cookie with setHeader; Fastify's writeHead keeps it.
      work?.(request.headers.cookie, reply.raw);
      return HELLO;
    });
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  await serveVariant(app.server, () => routeHits, backend);
}

main().catch(dieWith('fastify-server'));
