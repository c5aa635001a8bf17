// Child process of bench/request-cost.ts: one Express 5 hello-world variant (bench/server-variants.ts)
// on 127.0.0.1, driven by the parent over IPC.
//
//   node --import tsx bench/express-server.ts <variant> <sink url>
import express from 'express';
import { tracking } from 'idstitch/express';
import { dieWith, EVENT_NAME, HELLO, idstitchOptions, routeWork, serveVariant, serverArgs, type Backend } from './server-variants.js';

async function main(): Promise<void> {
  const { variant, sinkUrl } = serverArgs();
  let routeHits = 0;
  let backend: Backend | undefined;
  const app = express();
  if (variant === 'idstitch') {
    const middleware = tracking(idstitchOptions(sinkUrl));
    backend = {
      flush: () => middleware.tracker.flush(),
      async drain(timeoutMs) {
        await middleware.tracker.shutdown({ timeoutMs });
        return { tracker: middleware.tracker.stats() };
      },
    };
    app.use(middleware);
    app.get('/', (req, res) => {
      routeHits++;
      req.track(EVENT_NAME, { path: '/' });
      res.json(HELLO);
    });
  } else {
    const work = await routeWork(variant, sinkUrl);
    backend = work?.backend;
    app.get(
      '/',
      work
        ? (req, res) => {
            routeHits++;
            work(req.headers.cookie, res);
            res.json(HELLO);
          }
        : (_req, res) => {
            routeHits++;
            res.json(HELLO);
          },
    );
  }
  await serveVariant(app.listen(0, '127.0.0.1'), () => routeHits, backend);
}

main().catch(dieWith('express-server'));
