// Child process of bench/request-cost.ts: one Koa 3 hello-world variant (bench/server-variants.ts)
// on 127.0.0.1, driven by the parent over IPC.
//
//   node --import tsx bench/koa-server.ts <variant> <sink url>
import Koa from 'koa';
import { tracking } from 'idstitch/koa';
import { dieWith, EVENT_NAME, HELLO, idstitchOptions, routeWork, serveVariant, serverArgs, type Backend } from './server-variants.js';

async function main(): Promise<void> {
  const { variant, sinkUrl } = serverArgs();
  let routeHits = 0;
  let backend: Backend | undefined;
  const app = new Koa();
  // GET / only, like the Express app's app.get('/'): the routing check is part of every variant.
  const isHome = (ctx: Koa.Context): boolean => ctx.method === 'GET' && ctx.path === '/';
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
    app.use((ctx) => {
      if (!isHome(ctx)) return;
      routeHits++;
      ctx.track(EVENT_NAME, { path: '/' });
      ctx.body = HELLO;
    });
  } else {
    const work = await routeWork(variant, sinkUrl);
    backend = work?.backend;
    app.use((ctx) => {
      if (!isHome(ctx)) return;
      routeHits++;
      // ctx.res: the floor and the peers write Set-Cookie with setHeader, as ctx.set() itself does.
      work?.(ctx.headers.cookie, ctx.res);
      ctx.body = HELLO;
    });
  }
  await serveVariant(app.listen(0, '127.0.0.1'), () => routeHits, backend);
}

main().catch(dieWith('koa-server'));
