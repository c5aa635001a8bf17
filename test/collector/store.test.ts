import { afterEach, describe, expect, it } from 'vitest';
import { CollectorStore, type EventRecord } from '../../src/collector/store.js';
import { deriveIdentity } from '../../src/id-merge.js';

const stores: CollectorStore[] = [];
afterEach(() => stores.splice(0).forEach((store) => store.close()));

function open(): CollectorStore {
  const store = new CollectorStore(':memory:');
  stores.push(store);
  return store;
}

function record(name: string, ids: { device?: string; user?: string }, properties: Record<string, unknown> = {}): EventRecord {
  const identity = deriveIdentity({ distinctId: undefined, deviceId: ids.device, userId: ids.user }, { distinctIdWithDevice: 'override' });
  return {
    event: name,
    time: 1_700_000_000_000,
    insertId: name,
    identity,
    distinctId: identity.distinctId!,
    link: true,
    properties: { ...properties },
    endpoint: 'import',
  };
}

describe('CollectorStore', () => {
  it('rolls a failed batch back entirely: no events, no links, no users', () => {
    const store = open();
    store.ingest([record('before', { device: 'D0' })], Date.now());
    // A BigInt cannot be serialised: the second record fails after the first linked D1 → U.
    expect(() =>
      store.ingest([record('link', { device: 'D1', user: 'U' }), record('bad', { device: 'D2' }, { n: 1n })], Date.now()),
    ).toThrow();
    expect(store.countEvents()).toBe(1);
    expect(store.graph.userOf('D1')).toBeUndefined();
    expect(store.graph.isUser('U')).toBe(false);
    expect(store.summaries().map((s) => s.distinctId)).toEqual(['$device:D0']);
    // Ingestion goes on where it stopped.
    expect(store.ingest([record('link', { device: 'D1', user: 'U' })], Date.now())).toBe(1);
    expect(store.allEvents().map((e) => [e.seq, e.event])).toEqual([
      [1, 'before'],
      [2, 'link'],
    ]);
    expect(store.graph.lookup('D1')).toEqual({ canonical: 'U', userId: 'U', deviceIds: ['D1'] });
  });

  it('keys copies on event, distinct_id, time and $insert_id together: one differing field is a distinct event', () => {
    const store = open();
    const base = record('x', { device: 'D' });
    store.ingest(
      [
        base,
        { ...base }, // a retry: the same key
        { ...base, insertId: 'other' }, // another $insert_id
        { ...base, time: base.time + 1 }, // another time
        { ...base, event: 'x2' }, // another event name, same $insert_id
        record('x', { device: 'E' }), // another distinct_id, same $insert_id
      ],
      Date.now(),
    );
    const summaries = store.summaries();
    expect(summaries.map((s) => [s.distinctId, s.events, s.rawEvents])).toEqual([
      ['$device:D', 4, 5],
      ['$device:E', 1, 1],
    ]);
  });

  it('counts a copy with the same stored key once', () => {
    const store = open();
    store.ingest([record('x', { device: 'D' }), record('x', { device: 'D' }), record('y', { device: 'D' })], Date.now());
    expect(store.summaries()).toEqual([
      { distinctId: '$device:D', events: 2, rawEvents: 3, firstTime: 1_700_000_000_000, lastTime: 1_700_000_000_000 },
    ]);
  });
});
