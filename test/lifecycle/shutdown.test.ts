// Process lifecycle, in real child processes running the built package: SIGTERM with events
// queued, a shutdown deadline that expires, and track() after shutdown.
import { afterEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../src/collector/index.js';
import type { TrackerStats } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { runFixture, type Message } from './child.js';

let collector: Collector | undefined;
let proxy: FaultProxy | undefined;

afterEach(async () => {
  await proxy?.close();
  await collector?.close();
  proxy = undefined;
  collector = undefined;
});

async function startApi(): Promise<FaultProxy> {
  collector = await startCollector({ port: 0, storage: ':memory:' });
  proxy = await startFaultProxy(collector.url);
  return proxy;
}

function distinctInsertIds(): number {
  return new Set(collector!.store.allEvents().map((row) => row.insertId)).size;
}

interface ShutdownMessage extends Message {
  queuedAtSigterm: number;
  shutdownMs: number;
  stats: TrackerStats;
  reports: Array<{ code: string; count?: number }>;
}

describe('SIGTERM', () => {
  it('with 10,000 events queued: all 10,000 delivered before the process ends by itself, exit code 0, well within the 20 s shutdown timeout', async () => {
    // A slow API (1 s a request), so the events are still queued when the signal comes.
    const api = await startApi();
    api.otherwise({ delayMs: 1000 });
    const app = runFixture('sigterm.mjs', { API_HOST: api.url, EVENTS: '10000', SHUTDOWN_TIMEOUT_MS: '20000' });
    await app.message('ready', 10_000);
    app.process.kill('SIGTERM');
    const signalledAt = performance.now();

    const report = await app.message<ShutdownMessage>('shutdown', 25_000);
    const exit = await app.exit(5000);
    expect(exit, `the process did not end by itself after shutdown() resolved; stderr: ${app.stderr()}`).not.toBe('still running');
    if (exit === 'still running') return;
    const figures = `queued at SIGTERM ${report.queuedAtSigterm}, delivered ${report.stats.delivered}, collector holds ${distinctInsertIds()}, shutdown took ${Math.round(report.shutdownMs)} ms, exit ${Math.round(exit.at - signalledAt)} ms after SIGTERM`;

    expect(exit.code, figures + app.stderr()).toBe(0);
    // At most the first four 1,000-event requests could have been answered before the signal.
    expect(report.queuedAtSigterm, figures).toBeGreaterThanOrEqual(6000);
    expect(report.stats.delivered, figures).toBe(10_000);
    expect(
      Object.values(report.stats.dropped).every((count) => count === 0),
      figures,
    ).toBe(true);
    expect(distinctInsertIds(), figures).toBe(10_000);
    expect(report.reports, figures).toEqual([]);
    expect(exit.at - signalledAt, figures).toBeLessThan(20_000);
  });

  it('a shutdown deadline that expires (500 ms, API never answers): reports the 2,000 events left, and the process ends by itself within 2 s', async () => {
    const api = await startApi();
    api.otherwise('hang');
    const app = runFixture('sigterm.mjs', { API_HOST: api.url, EVENTS: '2000', SHUTDOWN_TIMEOUT_MS: '500' });
    await app.message('ready', 10_000);
    app.process.kill('SIGTERM');
    const signalledAt = performance.now();

    const report = await app.message<ShutdownMessage>('shutdown', 10_000);
    const exit = await app.exit(5000);
    expect(exit, `the process hung after an expired shutdown; stderr: ${app.stderr()}`).not.toBe('still running');
    if (exit === 'still running') return;
    const figures = `left ${report.stats.dropped.shutdown_timeout}, shutdown took ${Math.round(report.shutdownMs)} ms, exit ${Math.round(exit.at - signalledAt)} ms after SIGTERM`;

    expect(exit.code, figures).toBe(0);
    expect(report.reports, figures).toEqual([{ code: 'IDSTITCH_SHUTDOWN_TIMEOUT', count: 2000 }]);
    expect(report.stats.dropped.shutdown_timeout, figures).toBe(2000);
    expect(report.stats).toMatchObject({ delivered: 0, queued: 0 });
    expect(report.shutdownMs, figures).toBeGreaterThanOrEqual(490);
    expect(report.shutdownMs, figures).toBeLessThan(1500);
    expect(exit.at - signalledAt, figures).toBeLessThan(2000);
  });
});

describe('after shutdown', () => {
  it('track() from the tracker and from a request: 2 events counted as tracker_closed and reported, 0 thrown, 0 sent', async () => {
    const api = await startApi();
    const app = runFixture('after-shutdown.mjs', { API_HOST: api.url });

    const result = await app.message<Message & { reports: string[]; thrown: string | null; status: number; stats: TrackerStats }>(
      undefined,
      10_000,
    );
    const exit = await app.exit(5000);

    expect(exit, app.stderr()).toMatchObject({ code: 0 });
    expect(result.thrown).toBeNull();
    expect(result.status, 'the request after shutdown was served').toBe(200);
    expect(result.reports).toEqual(['IDSTITCH_TRACKER_CLOSED', 'IDSTITCH_TRACKER_CLOSED']);
    expect(result.stats.dropped.tracker_closed).toBe(2);
    expect(result.stats.tracked).toBe(0);
    expect(api.requests).toHaveLength(0);
  });
});
