/**
 * The fault matrix's test rig: an Express app with idstitch mounted, delivering through a fault
 * proxy into a real collector, and the figures every fault test states: events sent, delivered
 * (distinct `$insert_id`s the collector stored), duplicates left after Mixpanel's de-duplication,
 * and the tracker's give-ups by reason.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { expect } from 'vitest';
import { tracking, type TrackingMiddleware } from '../../adapters/express.js';
import { startCollector, type Collector, type CollectorOptions } from '../../src/collector/index.js';
import type { DeliveryError, IdstitchError, TrackerOptions, TrackerStats } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';

export const TOKEN = 'fault-token';

/**
 * Fast retries: ten retries back off 20 ms doubling to 200 ms (≈ 1.4 s in all), so a test that
 * retries is over in a second or two. Requests time out after 1 s (undici checks every ~0.5 s).
 */
export const FAST_RETRY = { minRetryDelayMs: 20, maxRetryDelayMs: 200, timeoutMs: 1000 } as const satisfies TrackerOptions;

export interface RigOptions {
  tracker?: TrackerOptions;
  collector?: CollectorOptions;
  /** Send somewhere else than the proxy (a dead port, an unresolvable host). */
  apiHost?: string;
}

export interface Figures {
  /** Events the app tracked. */
  sent: number;
  /** Distinct events the collector stored (by `$insert_id`). */
  delivered: number;
  /** Rows stored, copies from retries included. */
  stored: number;
  /** Events the query API counts after de-duplication (Σ `event_count` over `/api/users`). */
  afterDedupe: number;
  /** Copies that survive de-duplication: a retry that changed `time` or `$insert_id` would show here. */
  duplicates: number;
}

export interface Rig {
  readonly collector: Collector;
  readonly proxy: FaultProxy;
  readonly middleware: TrackingMiddleware;
  /** Everything the tracker reported. */
  readonly errors: IdstitchError[];
  /**
   * Tracks `count` events through the app: requests of `perRequest` events each, from ten browsers
   * in turn (one cookie jar each). `pad` adds that many bytes to each event. Numbers continue across calls.
   */
  send(count: number, options?: { perRequest?: number; pad?: number }): Promise<void>;
  stats(): TrackerStats;
  /** What the collector holds now, as the figures above. */
  figures(): Promise<Figures>;
  /** Errors reported with `code`. */
  reported(code: IdstitchError['code']): DeliveryError[];
  close(): Promise<void>;
}

export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const collector = await startCollector({ port: 0, storage: ':memory:', ...options.collector });
  const proxy = await startFaultProxy(collector.url);
  const errors: IdstitchError[] = [];
  const middleware = tracking({
    apiHost: options.apiHost ?? proxy.url,
    token: TOKEN,
    // Batches of exactly 100, cut by count alone (never by the interval on a slow machine); flush() sends the rest.
    flushAt: 100,
    flushIntervalMs: 60_000,
    ...FAST_RETRY,
    onError: (error) => errors.push(error),
    ...options.tracker,
  });
  const app = express();
  app.use(middleware);
  app.get('/visit', (req, res) => {
    const from = Number(req.query.from);
    const count = Number(req.query.count);
    const pad = 'x'.repeat(Number(req.query.pad ?? 0));
    for (let n = from; n < from + count; n++) req.track('Viewed Page', pad ? { n, pad } : { n });
    res.sendStatus(204);
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browsers = Array.from({ length: 10 }, () => request.agent(appUrl));
  let sent = 0;
  let visits = 0;
  const queryHeaders: Record<string, string> = options.collector?.token
    ? { authorization: 'Basic ' + Buffer.from(`${options.collector.token}:`).toString('base64') }
    : {};

  return {
    collector,
    proxy,
    middleware,
    errors,
    async send(count, { perRequest = 10, pad = 0 } = {}) {
      for (let done = 0; done < count; done += perRequest) {
        const size = Math.min(perRequest, count - done);
        const browser = browsers[visits++ % browsers.length]!;
        await browser.get('/visit').query({ from: sent, count: size, pad }).expect(204);
        sent += size;
      }
    },
    stats: () => middleware.tracker.stats(),
    async figures() {
      const rows = collector.store.allEvents();
      const insertIds = new Set(rows.map((row) => row.insertId));
      const response = await fetch(`${collector.url}/api/users`, { headers: queryHeaders });
      const { users } = (await response.json()) as { users: Array<{ event_count: number }> };
      const afterDedupe = users.reduce((sum, user) => sum + user.event_count, 0);
      return { sent, delivered: insertIds.size, stored: rows.length, afterDedupe, duplicates: afterDedupe - insertIds.size };
    },
    reported: (code) => errors.filter((error): error is DeliveryError => error.code === code),
    async close() {
      await middleware.tracker.shutdown({ timeoutMs: 500 });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await proxy.close();
      await collector.close();
    },
  };
}

/** Σ `stats().dropped`: every event given up, whatever the reason. */
export function givenUp(stats: TrackerStats): number {
  return Object.values(stats.dropped).reduce((sum, count) => sum + count, 0);
}

/**
 * Every event is accounted for: delivered, or given up under a counted reason (queue_full and the
 * other refusals before the queue included), and nothing left queued.
 */
export function expectAccounted(figures: Figures, stats: TrackerStats): void {
  const line = describeRun(figures, stats);
  expect(stats.queued, line).toBe(0);
  expect(stats.delivered + givenUp(stats), `delivered + given up = sent (${line})`).toBe(figures.sent);
  expect(figures.duplicates, `0 duplicates after dedupe (${line})`).toBe(0);
}

/** One line with the figures, for assertion messages: a failure says what actually happened. */
export function describeRun(figures: Figures, stats: TrackerStats): string {
  const drops = Object.entries(stats.dropped)
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => `${reason} ${count}`);
  return `sent ${figures.sent}, delivered ${figures.delivered}, stored ${figures.stored} rows, ${figures.afterDedupe} after dedupe, duplicates ${figures.duplicates}; tracker: delivered ${stats.delivered}, queued ${stats.queued}, requests ${stats.requests}, retries ${stats.retries}, splits ${stats.splits}, given up: ${drops.join(', ') || 'none'}`;
}
