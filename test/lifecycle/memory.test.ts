// Memory during an outage: bench/memory.ts's short version, in child processes (one per scenario),
// with the default queue bounds. The figures it asserts are the bench's own checks; the test states them.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RSS_ALLOWANCE_BYTES, type MemoryBenchResult } from '../../bench/memory.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EVENTS = process.env.IDSTITCH_SOAK === '1' ? 1_000_000 : 100_000;
const MIB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'idstitch-memory-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runBench(): Promise<MemoryBenchResult> {
  const json = join(dir, 'memory.json');
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/memory.ts', '--events', String(EVENTS), '--json', json], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const result = JSON.parse(readFileSync(json, 'utf8')) as MemoryBenchResult;
  expect(code, output).toBe(0);
  return result;
}

describe('memory against a dead endpoint', () => {
  it(
    `${EVENTS.toLocaleString('en-US')} events, default bounds: peak RSS growth ≤ maxQueueBytes (32 MiB) + ${RSS_ALLOWANCE_BYTES / MIB} MiB; every event beyond the bound counted as queue_full`,
    { timeout: EVENTS > 100_000 ? 120_000 : 30_000 },
    async () => {
      const result = await runBench();

      for (const s of result.scenarios) {
        const figures = `${s.scenario}: ${s.events} events of ${s.eventBytes} B, held ${s.queued}, queue_full ${s.stats.dropped.queue_full}, RSS ${(s.rss.baseline / MIB).toFixed(1)} → ${(s.rss.peak / MIB).toFixed(1)} MiB (growth ${(s.rss.growth / MIB).toFixed(1)} MiB, bound ${(s.rssBound / MIB).toFixed(1)} MiB), Buffers held ${(s.heap.retainedArrayBuffers / MIB).toFixed(1)} MiB`;
        expect(s.rss.growth, figures).toBeLessThanOrEqual(s.maxQueueBytes + RSS_ALLOWANCE_BYTES);
        expect(s.stats.dropped.queue_full, figures).toBe(EVENTS - s.queued);
        expect(s.stats.tracked, figures).toBe(s.queued);
        expect(s.queued * s.eventBytes, `${figures}: bytes held within maxQueueBytes`).toBeLessThanOrEqual(s.maxQueueBytes);
        expect(s.droppedAfterShutdown.shutdown_timeout, `${figures}: the held events counted when shutdown gave up`).toBe(s.queued);
        expect(
          Object.entries(s.checks)
            .filter(([, passed]) => !passed)
            .map(([check]) => check),
          figures,
        ).toEqual([]);
      }
      const [countBound, byteBound] = result.scenarios;
      expect(countBound!.queued, 'small events: maxQueueSize binds').toBe(20_000);
      expect(byteBound!.queued * byteBound!.eventBytes, '4 KB events: maxQueueBytes binds (within one event of it)').toBeGreaterThan(
        byteBound!.maxQueueBytes - byteBound!.eventBytes,
      );
    },
  );
});
