// Whether two HTTP requests share a V8 hidden class, compared while both are at the same point of
// their handling: raw node:http, a request moved onto another prototype, the same with one property
// added after the move, and Express. docs/performance.md says where the request's time goes
// (every read of an object whose class no other object shares misses V8's inline caches).
//
//   node --allow-natives-syntax --import tsx bench/lab/hidden-classes.ts   (npm run bench:classes)
import express from 'express';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let sameClass: (a: object, b: object) => boolean;
try {
  // V8's own test helper, reachable only with --allow-natives-syntax (as source text, so TypeScript parses this file).
  sameClass = new Function('a', 'b', 'return %HaveSameMap(a, b)') as typeof sameClass;
} catch {
  console.log('bench/lab/hidden-classes.ts: run it with node --allow-natives-syntax (skipped)');
  process.exit(0);
}

const PAIRS = 20;

/** Holds requests two at a time and compares their classes before answering both. */
async function pairs(label: string, serve: (handler: Handler) => http.Server): Promise<void> {
  let held: Array<[IncomingMessage, ServerResponse]> = [];
  let same = 0;
  const server = serve((req, res) => {
    held.push([req, res]);
    if (held.length < 2) return;
    const [[a, answerA], [b, answerB]] = held as [[IncomingMessage, ServerResponse], [IncomingMessage, ServerResponse]];
    held = [];
    if (sameClass(a, b)) same++;
    answerA.end('ok');
    answerB.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  for (let i = 0; i < PAIRS; i++) await Promise.all([fetch(url).then((r) => r.text()), fetch(url).then((r) => r.text())]);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  console.log(`${label.padEnd(58)} ${same} of ${PAIRS} pairs share a class`);
}

const elsewhere = Object.create(http.IncomingMessage.prototype) as object;
await pairs('raw node:http', (handler) => http.createServer(handler));
await pairs('raw, moved by Object.setPrototypeOf', (handler) =>
  http.createServer((req, res) => {
    Object.setPrototypeOf(req, elsewhere);
    handler(req, res);
  }),
);
await pairs('raw, moved, then one property added (req.res = res)', (handler) =>
  http.createServer((req, res) => {
    Object.setPrototypeOf(req, elsewhere);
    (req as IncomingMessage & { res?: ServerResponse }).res = res;
    handler(req, res);
  }),
);
await pairs('Express 5, in the route', (handler) => {
  const app = express();
  app.get('/', (req, res) => handler(req, res));
  return http.createServer(app);
});
