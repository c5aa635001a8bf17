// Timers and sockets never keep an idle process alive: a process holding a tracker ends as soon as
// its own work is done, whatever idstitch has pending. Each case runs test/fixtures/lifecycle/idle.mjs
// against the built package and times the exit from the script's last line.
import { afterEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../src/collector/index.js';
import type { TrackerStats } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { runFixture, type Message } from './child.js';

/**
 * Under the 3.75 s the fixture's 5 s flush interval or backoff (−25 % jitter) would hold the process,
 * and undici's 4 s keep-alive. Exits measured on 2 busy cores took 10–600 ms, the longer ones after
 * a request.
 */
const PROMPT_EXIT_MS = 2000;

let collector: Collector | undefined;
let proxy: FaultProxy | undefined;

afterEach(async () => {
  await proxy?.close();
  await collector?.close();
  proxy = undefined;
  collector = undefined;
});

async function idleRun(mode: string, prepare: (proxy: FaultProxy) => void = () => {}) {
  collector = await startCollector({ port: 0, storage: ':memory:' });
  proxy = await startFaultProxy(collector.url);
  prepare(proxy);
  const app = runFixture('idle.mjs', { MODE: mode, API_HOST: proxy.url });
  const idle = await app.message<Message & { stats: TrackerStats }>('idle', 10_000);
  const exit = await app.exit(10_000);
  const exitMs = exit === 'still running' ? Infinity : exit.at - idle.receivedAt;
  return { exit, exitMs, stats: idle.stats, stored: collector.store.countEvents(), stderr: app.stderr() };
}

describe('an idle process with a tracker ends by itself', () => {
  it(`with a tracker created and nothing tracked: exits in < ${PROMPT_EXIT_MS} ms`, async () => {
    const { exit, exitMs, stderr } = await idleRun('fresh');

    expect(exit, stderr).toMatchObject({ code: 0 });
    expect(exitMs, `exited ${Math.round(exitMs)} ms after going idle`).toBeLessThan(PROMPT_EXIT_MS);
  });

  it(`after flush() delivered 3 events, with a keep-alive socket open: exits in < ${PROMPT_EXIT_MS} ms, 3 stored`, async () => {
    const { exit, exitMs, stats, stored, stderr } = await idleRun('flushed');

    expect(exit, stderr).toMatchObject({ code: 0 });
    expect(exitMs, `exited ${Math.round(exitMs)} ms after going idle`).toBeLessThan(PROMPT_EXIT_MS);
    expect(stats.delivered).toBe(3);
    expect(stored).toBe(3);
  });

  it(`with 3 events waiting for the 5 s flush interval: exits in < ${PROMPT_EXIT_MS} ms without sending them (flush() or shutdown() is what sends them)`, async () => {
    const { exit, exitMs, stats, stored, stderr } = await idleRun('pending');

    expect(exit, stderr).toMatchObject({ code: 0 });
    expect(exitMs, `exited ${Math.round(exitMs)} ms after going idle`).toBeLessThan(PROMPT_EXIT_MS);
    expect(stats.queued).toBe(3);
    expect(stored).toBe(0);
  });

  it(`with 3 requests answered 503 and their 5 s backoff pending: exits in < ${PROMPT_EXIT_MS} ms, before any retry`, async () => {
    const { exit, exitMs, stderr } = await idleRun('retrying', (p) => p.otherwise({ status: 503 }));

    expect(exit, stderr).toMatchObject({ code: 0 });
    expect(exitMs, `exited ${Math.round(exitMs)} ms after going idle`).toBeLessThan(PROMPT_EXIT_MS);
    expect(
      proxy!.requests.map((request) => request.outcome),
      'three first attempts, no retry',
    ).toEqual([503, 503, 503]);
  });
});
