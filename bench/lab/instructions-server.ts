// Child process of bench/lab/instructions.ts, run under callgrind: one Express 5 hello-world variant on
// 127.0.0.1. It prints {"port":N} when listening and {"flushed":true} after each SIGUSR2, once
// what it tracked so far is delivered.
//
//   valgrind --tool=callgrind … node --import tsx bench/lab/instructions-server.ts <variant> <sink url>
import express from 'express';
import { tracking } from 'idstitch/express';
import { dieWith, EVENT_NAME, HELLO, idstitchOptions, routeWork } from '../server-variants.js';

async function main(): Promise<void> {
  const [variant, sinkUrl] = process.argv.slice(2) as [string, string];
  const app = express();
  let flush = (): Promise<void> => Promise.resolve();
  if (variant === 'idstitch') {
    // Batches by count only: under callgrind a request takes ~50× longer, and the 2 s interval
    // would otherwise send many small batches that a real server never would at this load.
    const middleware = tracking({ ...idstitchOptions(sinkUrl), flushIntervalMs: 600_000 });
    flush = () => middleware.tracker.flush();
    app.use(middleware);
    app.get('/', (req, res) => {
      req.track(EVENT_NAME, { path: '/' });
      res.json(HELLO);
    });
  } else if (variant === 'floor') {
    const work = (await routeWork('floor', sinkUrl))!;
    app.get('/', (req, res) => {
      work(req.headers.cookie, res);
      res.json(HELLO);
    });
  } else if (variant === 'layer' || variant === 'bare') {
    if (variant === 'layer') app.use((_req, _res, next) => next());
    app.get('/', (_req, res) => {
      res.json(HELLO);
    });
  } else throw new Error(`variant must be one of bare, floor, layer, idstitch, got ${variant}`);
  process.on('SIGUSR2', () => {
    void flush().then(() => process.stdout.write(JSON.stringify({ flushed: true }) + '\n'));
  });
  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port }) + '\n');
  });
}

main().catch(dieWith('instructions-server'));
