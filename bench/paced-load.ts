// An open-loop load generator for latency: requests go out on a fixed schedule whatever the server
// does (handed to the connection pool every millisecond, however many answers are outstanding), so
// a stall shows in every request it delayed, queued ones included. autocannon's `overallRate` sends
// each second's quota in a burst, and its histogram rounds to whole milliseconds.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { quantile } from './stats.js';

export interface PacedRequest {
  headers?: Record<string, string>;
}

export interface PacedResult {
  /** Requests sent and answered with a 2xx. */
  sent: number;
  ok: number;
  /** Non-2xx answers and failed requests. */
  failed: number;
  /** Answered per second of the window. */
  reqPerSec: number;
  /** Every 2xx response's latency (ms), in the order they were answered. */
  latencies: number[];
  /** Latency from each request's hand-off to the pool (at most a timer tick after it was due) to its complete response, ms. */
  p50: number;
  p99: number;
}

/** GETs `url` at `rate` per second for `seconds`, cycling through `requests`, over `connections` keep-alive connections. */
export async function pacedLoad(
  url: string,
  options: { rate: number; seconds: number; connections: number; requests: readonly PacedRequest[] },
): Promise<PacedResult> {
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections: options.connections, pipelining: 1 });
  const total = Math.max(1, Math.round(options.rate * options.seconds));
  const intervalMs = 1000 / options.rate;
  const latencies: number[] = [];
  const pending: Array<Promise<void>> = [];
  let failed = 0;
  const start = performance.now();
  const fire = (index: number): Promise<void> => {
    // From the hand-off, not the due time: the timer's own lag (up to ~1 ms) is not the server's.
    const sent = performance.now();
    const { headers } = options.requests[index % options.requests.length]!;
    return pool.request({ method: 'GET', path: pathname, headers }).then(
      async (response) => {
        await response.body.dump();
        if (response.statusCode >= 200 && response.statusCode < 300) latencies.push(performance.now() - sent);
        else failed++;
      },
      () => void failed++,
    );
  };
  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = (): void => {
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      while (next < due) pending.push(fire(next++));
      if (next < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  const wallMs = performance.now() - start;
  await pool.close();
  return {
    sent: total,
    ok: latencies.length,
    failed,
    reqPerSec: latencies.length / (wallMs / 1000),
    latencies,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
  };
}
