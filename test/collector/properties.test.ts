import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collector, importEvents, send } from './helpers.js';

interface Step {
  readonly device: string | null;
  readonly user: string | null;
  /** ms before now: times are random, so time order and ingestion order disagree. */
  readonly age: number;
  /** Start a new request before this event. */
  readonly cut: boolean;
}

const step: fc.Arbitrary<Step> = fc
  .record({
    device: fc.option(fc.constantFrom('d0', 'd1', 'd2', 'd3', 'd4'), { nil: null }),
    user: fc.option(fc.constantFrom('u0', 'u1', 'u2'), { nil: null }),
    age: fc.integer({ min: 1, max: 40 * 86_400_000 }),
    cut: fc.boolean(),
  })
  .filter((s) => s.device !== null || s.user !== null);

/** The reference model: first link by ingestion order, never overwritten (contract §5.10). */
function expectedLinks(steps: readonly Step[]): Map<string, string> {
  const links = new Map<string, string>();
  for (const s of steps) if (s.device !== null && s.user !== null && !links.has(s.device)) links.set(s.device, s.user);
  return links;
}

describe('identity invariants over random event orders (fast-check)', () => {
  it('links each device to at most one user, never merges users, and resolves every event to exactly one cluster', async () => {
    const { url } = await collector();
    const now = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        await send(url, '/_control/reset', { method: 'POST' });
        const batches: Array<Array<Record<string, unknown>>> = [];
        steps.forEach((s, i) => {
          if (i === 0 || s.cut) batches.push([]);
          batches.at(-1)!.push({
            event: `e${i}`,
            properties: {
              time: now - s.age,
              $insert_id: `p${i}`,
              ...(s.device !== null ? { $device_id: s.device } : {}),
              ...(s.user !== null ? { $user_id: s.user } : {}),
            },
          });
        });
        for (const batch of batches) expect((await importEvents(url, batch)).status).toBe(200);

        const clusters = (await send(url, '/api/users')).json.users as Array<{
          distinct_id: string;
          user_id: string | null;
          device_ids: string[];
          event_count: number;
        }>;
        const links = expectedLinks(steps);

        // Each device belongs to exactly one cluster, the one the model predicts.
        const owner = new Map<string, string>();
        for (const cluster of clusters) {
          for (const device of cluster.device_ids) {
            expect(owner.has(device), `device ${device} in two clusters`).toBe(false);
            owner.set(device, cluster.distinct_id);
          }
          // One user per cluster, and it is the canonical id (R5, R6).
          if (cluster.user_id !== null) expect(cluster.distinct_id).toBe(cluster.user_id);
        }
        for (const s of steps) {
          if (s.device === null) continue;
          expect(owner.get(s.device)).toBe(links.get(s.device) ?? `$device:${s.device}`);
        }
        // No two clusters share a user.
        const users = clusters.filter((c) => c.user_id !== null).map((c) => c.user_id);
        expect(new Set(users).size).toBe(users.length);

        // Every event appears in exactly one cluster's feed, resolved to that cluster's id.
        const seen = new Map<string, string>();
        for (const cluster of clusters) {
          const events = (await send(url, `/api/events?distinct_id=${encodeURIComponent(cluster.distinct_id)}`)).json.events as Array<{
            insert_id: string;
            distinct_id: string;
            time: number;
          }>;
          expect(events.length).toBe(cluster.event_count);
          for (const e of events) {
            expect(seen.has(e.insert_id), `${e.insert_id} in two feeds`).toBe(false);
            seen.set(e.insert_id, e.distinct_id);
            expect(e.distinct_id).toBe(cluster.distinct_id);
          }
          const times = events.map((e) => e.time);
          expect(times).toEqual([...times].sort((a, b) => a - b));
        }
        expect(seen.size).toBe(steps.length);
        steps.forEach((s, i) => {
          const expected = s.user ?? links.get(s.device!) ?? `$device:${s.device}`;
          expect(seen.get(`p${i}`)).toBe(expected);
        });
      }),
      { numRuns: 60 },
    );
  });
});
