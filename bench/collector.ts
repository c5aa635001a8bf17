// Collector benchmark: events/s ingested through HTTP with ID merge (≥ 50 k/s), and
// one user's activity feed at 1 M stored events (≤ 10 ms).
//
//   npx tsx bench/collector.ts [--smoke] [--json <path>]
//
// The collector runs in a child process, so the client that sends the batches does not share its
// event loop. The 1 M-event store is filled through `CollectorStore.ingest` (the same transaction code
// the HTTP path ends in, without HTTP) to keep the run short; the feed is then timed both as a
// function call and through `GET /api/events`.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Pool } from 'undici';
import { clusterEvents } from '../src/collector/query.js';
import { startCollector } from '../src/collector/server.js';
import { CollectorStore, type EventRecord } from '../src/collector/store.js';
import { deriveIdentity } from '../src/id-merge.js';

const BATCH = 2000; // events per request: Mixpanel's maximum
const CONNECTIONS = 4;

/** A reproducible pseudo-random sequence (mulberry32), so every run ingests the same traffic. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Traffic {
  device: string;
  user: string | undefined;
}

/**
 * Web-like traffic over `people` people with 1–3 devices each: mostly anonymous page views, some
 * identified events carrying device and user (which link), a few server events with only the user.
 */
function traffic(people: number, seed: number): () => Traffic {
  const next = random(seed);
  return () => {
    const person = Math.floor(next() * people);
    const device = `dev-${person}-${Math.floor(next() * 3)}`;
    const roll = next();
    if (roll < 0.7) return { device, user: undefined };
    if (roll < 0.95) return { device, user: `user-${person}` };
    return { device: '', user: `user-${person}` };
  };
}

function eventJson(i: number, t: Traffic, time: number): Record<string, unknown> {
  return {
    event: i % 5 === 0 ? 'Signed In' : 'Viewed Page',
    properties: {
      time,
      $insert_id: `b-${i}`,
      distinct_id: '',
      ...(t.device ? { $device_id: t.device } : {}),
      ...(t.user ? { $user_id: t.user } : {}),
      path: `/page/${i % 97}`,
      mp_lib: 'idstitch',
      $browser: 'Chrome',
    },
  };
}

async function serve(storage: string): Promise<void> {
  const collector = await startCollector({ port: 0, storage });
  process.send!({ url: collector.url });
  process.on('message', (message) => {
    if (message === 'stop') void collector.close().then(() => process.exit(0));
  });
}

/** Sends `events` in 2000-event JSON batches over `CONNECTIONS` keep-alive connections; returns events/s. */
async function ingestThroughHttp(events: number, storage: string): Promise<{ perSecond: number; seconds: number }> {
  const child = fork(new URL(import.meta.url).pathname, ['--serve', storage], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: 'inherit',
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { url: string }).url));
    child.once('error', reject);
  });
  const next = traffic(Math.max(1000, events / 20), 1);
  const now = Date.now();
  const bodies: string[] = [];
  for (let start = 0; start < events; start += BATCH) {
    const batch = [];
    for (let i = start; i < Math.min(events, start + BATCH); i++) batch.push(eventJson(i, next(), now - 3_600_000 + i));
    bodies.push(JSON.stringify(batch));
  }
  const pool = new Pool(url, { connections: CONNECTIONS });
  const send = async (body: string): Promise<void> => {
    const response = await pool.request({
      path: '/import?strict=1',
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`${response.statusCode} ${text.slice(0, 200)}`);
  };
  await send(bodies[0]!); // warm-up: JIT and the first page allocations (not timed, counted below)
  const started = performance.now();
  let cursor = 1;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (cursor < bodies.length) await send(bodies[cursor++]!);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
  return { perSecond: (events - BATCH) / seconds, seconds };
}

/** Fills a store with `events` events, then times the feed of random users. */
interface FeedResult {
  events: number;
  fillPerSecond: number;
  users: number;
  meanEventsPerFeed: number;
  feedP50Ms: number;
  feedP99Ms: number;
  feedMaxMs: number;
  httpFeedP50Ms: number;
  httpFeedP99Ms: number;
}

async function feedAtScale(events: number, storage: string, queries: number): Promise<FeedResult> {
  const store = new CollectorStore(storage);
  const people = events / 20; // ≈ 20 events per person
  const next = traffic(people, 2);
  const now = Date.now();
  const fillStarted = performance.now();
  for (let start = 0; start < events; start += 10_000) {
    const records: EventRecord[] = [];
    for (let i = start; i < Math.min(events, start + 10_000); i++) {
      const { properties } = eventJson(i, next(), now - 40 * 86_400_000 + i) as { properties: Record<string, unknown> };
      const identity = deriveIdentity(
        { distinctId: '', deviceId: properties.$device_id as string | undefined, userId: properties.$user_id as string | undefined },
        { distinctIdWithDevice: 'override' },
      );
      properties.distinct_id = identity.distinctId;
      records.push({
        event: i % 5 === 0 ? 'Signed In' : 'Viewed Page',
        time: properties.time as number,
        insertId: properties.$insert_id as string,
        identity,
        distinctId: identity.distinctId!,
        link: true,
        properties,
        endpoint: 'import',
      });
    }
    store.ingest(records, now);
  }
  const fillSeconds = (performance.now() - fillStarted) / 1000;
  const pick = random(3);
  const users = Array.from({ length: queries }, () => `user-${Math.floor(pick() * people)}`).filter((u) => store.graph.isUser(u));
  const timings: number[] = [];
  let returned = 0;
  for (const user of users) {
    const started = performance.now();
    returned += clusterEvents(store, user, { dedupeBy: 'stored' })!.length;
    timings.push(performance.now() - started);
  }
  store.close();

  // The same through HTTP, on the file the fill left behind.
  const collector = await startCollector({ port: 0, storage });
  const http: number[] = [];
  const pool = new Pool(collector.url, { connections: 1 });
  for (const user of users.slice(0, 200)) {
    const started = performance.now();
    const response = await pool.request({ path: `/api/events?distinct_id=${user}`, method: 'GET' });
    await response.body.text();
    http.push(performance.now() - started);
  }
  await pool.close();
  await collector.close();
  return {
    events,
    fillPerSecond: Math.round(events / fillSeconds),
    users: users.length,
    meanEventsPerFeed: Math.round(returned / users.length),
    feedP50Ms: percentile(timings, 0.5),
    feedP99Ms: percentile(timings, 0.99),
    feedMaxMs: percentile(timings, 1),
    httpFeedP50Ms: percentile(http, 0.5),
    httpFeedP99Ms: percentile(http, 0.99),
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const value = sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
  return Math.round(value * 100) / 100;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--serve') return serve(args[1]!);
  let smoke = false;
  let jsonPath: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--smoke') smoke = true;
    else if (args[i] === '--json' && args[i + 1] !== undefined) jsonPath = args[++i];
    else throw new Error(`unknown argument ${JSON.stringify(args[i])} (known: --smoke, --json <path>)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'idstitch-bench-collector-'));
  try {
    const ingestEvents = smoke ? 20_000 : 200_000;
    const memory = await ingestThroughHttp(ingestEvents, ':memory:');
    const file = await ingestThroughHttp(ingestEvents, join(dir, 'ingest.sqlite'));
    console.log(
      `HTTP ingestion with ID merge, ${ingestEvents} events in ${BATCH}-event strict /import batches over ${CONNECTIONS} connections:`,
    );
    console.log(`  :memory:     ${Math.round(memory.perSecond).toLocaleString('en')} events/s (target ≥ 50,000)`);
    console.log(`  SQLite file  ${Math.round(file.perSecond).toLocaleString('en')} events/s`);
    const feed = await feedAtScale(smoke ? 50_000 : 1_000_000, join(dir, 'feed.sqlite'), smoke ? 200 : 2000);
    console.log(
      `Activity feed of one user at ${feed.events.toLocaleString('en')} stored events (${feed.users} users sampled, ≈${feed.meanEventsPerFeed} events each; fill ${feed.fillPerSecond.toLocaleString('en')} events/s):`,
    );
    console.log(`  function  p50 ${feed.feedP50Ms} ms  p99 ${feed.feedP99Ms} ms  max ${feed.feedMaxMs} ms (target ≤ 10 ms)`);
    console.log(`  HTTP      p50 ${feed.httpFeedP50Ms} ms  p99 ${feed.httpFeedP99Ms} ms`);
    if (jsonPath) {
      mkdirSync(dirname(jsonPath), { recursive: true });
      const result = {
        ingest: { events: ingestEvents, memoryPerSecond: Math.round(memory.perSecond), filePerSecond: Math.round(file.perSecond) },
        feed,
      };
      writeFileSync(jsonPath, JSON.stringify(result, null, 2) + '\n');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
