import { describe, expect, it } from 'vitest';
import { IDENTITY_EVENT_MESSAGE } from '../../src/collector/validation.js';
import { collector, event, feed, identity, importEvents, send, trackEvents } from './helpers.js';

// The test vectors of mixpanel-contract §5.11, each through real HTTP, one request per event unless the
// vector says "same batch" (ingestion order is what decides first-link-wins).
async function sequence(base: string, events: Array<Record<string, unknown>>): Promise<void> {
  for (const e of events) {
    const response = await importEvents(base, [e]);
    expect(response.json, JSON.stringify(e)).toEqual({ code: 200, num_records_imported: 1, status: 'OK' });
  }
}

describe('Simplified ID Merge test vectors (contract §5.11)', () => {
  it('TV1 new signup: anonymous events resolve to the user once the device is linked', async () => {
    const { url } = await collector();
    await sequence(url, [event('e1', { device: 'D1' }), event('e2', { device: 'D1' }), event('e3', { device: 'D1', user: 'U1' })]);
    expect(await feed(url, 'U1')).toEqual([
      ['e1', '$device:D1', 'U1'],
      ['e2', '$device:D1', 'U1'],
      ['e3', 'U1', 'U1'],
    ]);
    expect(await identity(url, 'U1')).toEqual({ distinct_id: 'U1', user_id: 'U1', device_ids: ['D1'] });
    expect(await identity(url, '$device:D1')).toEqual({ distinct_id: 'U1', user_id: 'U1', device_ids: ['D1'] });
  });

  it('TV2 returning user: a second device joins the same cluster, its earlier events re-attributed', async () => {
    const { url } = await collector();
    await sequence(url, [event('e1', { device: 'D1' }), event('e2', { device: 'D1' }), event('e3', { device: 'D1', user: 'U1' })]);
    await sequence(url, [event('e4', { device: 'D2' }), event('e5', { device: 'D2' })]);
    expect(await feed(url, '$device:D2')).toEqual([
      ['e4', '$device:D2', '$device:D2'],
      ['e5', '$device:D2', '$device:D2'],
    ]);
    await sequence(url, [event('e6', { device: 'D2', user: 'U1' })]);
    expect((await feed(url, 'U1')).map(([name, , now]) => [name, now])).toEqual([
      ['e1', 'U1'],
      ['e2', 'U1'],
      ['e3', 'U1'],
      ['e4', 'U1'],
      ['e5', 'U1'],
      ['e6', 'U1'],
    ]);
    expect(await identity(url, 'D2')).toEqual({ distinct_id: 'U1', user_id: 'U1', device_ids: ['D1', 'D2'] });
  });

  it('TV3 shared device with reset: two users, two clusters (the corrected doc example)', async () => {
    const { url } = await collector();
    await sequence(url, [
      event('e1', { device: 'D1' }),
      event('e2', { device: 'D1', user: 'U1' }),
      event('e3', { device: 'D2' }),
      event('e4', { device: 'D2' }),
      event('e5', { device: 'D2', user: 'U2' }),
    ]);
    expect(await identity(url, 'U1')).toEqual({ distinct_id: 'U1', user_id: 'U1', device_ids: ['D1'] });
    expect(await identity(url, 'U2')).toEqual({ distinct_id: 'U2', user_id: 'U2', device_ids: ['D2'] });
    expect((await feed(url, 'U2')).map(([name]) => name)).toEqual(['e3', 'e4', 'e5']);
  });

  it('TV4 shared device without reset: the device stays with the first user; the second user keeps its own event', async () => {
    const { url } = await collector();
    await sequence(url, [
      event('e1', { device: 'D1' }),
      event('e2', { device: 'D1', user: 'U1' }),
      event('e3', { device: 'D1' }),
      event('e4', { device: 'D1', user: 'U2' }),
    ]);
    expect((await feed(url, 'U1')).map(([name]) => name)).toEqual(['e1', 'e2', 'e3']);
    const u2 = await send(url, '/api/events?distinct_id=U2');
    expect(u2.json.events).toHaveLength(1);
    expect(u2.json.events[0]).toMatchObject({ event: 'e4', original_distinct_id: 'U2', distinct_id: 'U2', device_id: 'D1', user_id: 'U2' });
    expect(u2.json.events[0].properties.$identity_failure_reason).toBe('errAnonDistinctIdAssignedAlready');
    expect(await identity(url, 'U2')).toEqual({ distinct_id: 'U2', user_id: 'U2', device_ids: [] });
    expect(await identity(url, 'D1')).toEqual({ distinct_id: 'U1', user_id: 'U1', device_ids: ['D1'] });
  });

  it('TV5 conflict in one batch: the earlier record in the batch wins the device', async () => {
    const { url } = await collector();
    const response = await importEvents(url, [
      event('a', { device: 'D', user: 'U51' }),
      event('b', { device: 'D', user: 'U52' }),
      event('c', { device: 'D' }),
    ]);
    expect(response.json).toEqual({ code: 200, num_records_imported: 3, status: 'OK' });
    expect(await identity(url, 'D')).toEqual({ distinct_id: 'U51', user_id: 'U51', device_ids: ['D'] });
    expect(await feed(url, 'U51')).toEqual([
      ['a', 'U51', 'U51'],
      ['c', '$device:D', 'U51'],
    ]);
  });

  it('TV6 back-dated link: a link stamped 30 days earlier still claims later anonymous events', async () => {
    const { url } = await collector();
    const now = Date.now();
    await sequence(url, [
      event('e1', { device: 'D9', time: now - 1000 }),
      event('e2', { device: 'D9', user: 'U9', time: now - 30 * 86_400_000 }),
    ]);
    expect(await feed(url, 'U9')).toEqual([
      ['e2', 'U9', 'U9'],
      ['e1', '$device:D9', 'U9'],
    ]);
  });

  it('TV7 phone number as device id: the same string as a user id is a separate cluster', async () => {
    const { url } = await collector();
    await sequence(url, [event('a', { device: '+6512345678', user: 'charlie' }), event('b', { user: '+6512345678' })]);
    expect(await identity(url, 'charlie')).toEqual({ distinct_id: 'charlie', user_id: 'charlie', device_ids: ['+6512345678'] });
    expect(await identity(url, '+6512345678')).toEqual({ distinct_id: '+6512345678', user_id: '+6512345678', device_ids: [] });
    expect(await identity(url, '$device:+6512345678')).toEqual({ distinct_id: 'charlie', user_id: 'charlie', device_ids: ['+6512345678'] });
  });

  it('TV8 distinct_id only: a $device: id is a device, anything else a user', async () => {
    const { url } = await collector();
    await sequence(url, [
      { event: 'a', properties: { time: Date.now() - 5000, $insert_id: 'tv8-a', distinct_id: '$device:X' } },
      { event: 'b', properties: { time: Date.now() - 4000, $insert_id: 'tv8-b', distinct_id: 'Y' } },
    ]);
    const x = await send(url, '/api/events?distinct_id=X');
    expect(x.json.events[0]).toMatchObject({ device_id: 'X', user_id: null, original_distinct_id: '$device:X' });
    expect(x.json.events[0].properties).toMatchObject({ $device_id: 'X', distinct_id: '$device:X' });
    const y = await send(url, '/api/events?distinct_id=Y');
    expect(y.json.events[0]).toMatchObject({ device_id: null, user_id: 'Y', original_distinct_id: 'Y' });
    expect(y.json.events[0].properties).toMatchObject({ $user_id: 'Y', distinct_id: 'Y' });
  });

  it('TV9 identity verb on strict /import: 400 with the probe string, no link made', async () => {
    const { url } = await collector();
    const response = await importEvents(url, [event('$identify', { device: 'D', user: 'U' })]);
    expect(response.status).toBe(400);
    expect(response.json).toEqual({
      code: 400,
      error: 'some data points in the request failed validation',
      failed_records: [IDENTITY_EVENT_MESSAGE],
      num_records_imported: 0,
      status: 'Bad Request',
    });
    expect(await identity(url, 'D')).toBe(404);
    expect(await identity(url, 'U')).toBe(404);
  });

  it('TV10 identity verb on /track: accepted, stored as a plain event, no link made', async () => {
    const { url } = await collector();
    const response = await trackEvents(url, [event('$identify', { device: 'D', user: 'U' })]);
    expect(response.json).toEqual({ status: 1, error: null });
    expect(await identity(url, 'D')).toEqual({ distinct_id: '$device:D', user_id: null, device_ids: ['D'] });
    expect(await feed(url, 'U')).toEqual([['$identify', 'U', 'U']]);
  });

  it('TV10 with identityEventsElsewhere "drop": the verb is acknowledged and not stored', async () => {
    const { url, store } = await collector({ identityEventsElsewhere: 'drop' });
    expect((await trackEvents(url, [event('$create_alias', { device: 'D', user: 'U' })])).json).toEqual({ status: 1, error: null });
    expect(store.countEvents()).toBe(0);
  });

  it('TV11 prefixed device id: one $device: prefix is stripped before linking', async () => {
    const { url } = await collector();
    await sequence(url, [event('a', { device: '$device:abc', user: 'U' })]);
    expect(await identity(url, 'abc')).toEqual({ distinct_id: 'U', user_id: 'U', device_ids: ['abc'] });
    const events = (await send(url, '/api/events?distinct_id=U')).json.events;
    expect(events[0]).toMatchObject({ device_id: 'abc' });
    expect(events[0].properties.$device_id).toBe('abc');
  });

  it('TV12 empty distinct_id with a device id: the distinct_id is derived', async () => {
    const { url } = await collector();
    await sequence(url, [event('a', { device: 'D' }, { distinct_id: '' })]);
    expect(await feed(url, 'D')).toEqual([['a', '$device:D', '$device:D']]);
  });

  it('TV13 profiles: properties set on $device:D do not reach the user after D is linked', async () => {
    const { url } = await collector();
    const engage = await send(url, '/engage?verbose=1', {
      body: JSON.stringify([{ $distinct_id: '$device:D', $set: { plan: 'anon' } }]),
      headers: { 'content-type': 'application/json' },
    });
    expect(engage.json).toEqual({ status: 1, error: null });
    await sequence(url, [event('login', { device: 'D', user: 'U' })]);
    expect((await send(url, '/api/profiles/U')).status).toBe(404);
    expect((await send(url, `/api/profiles/${encodeURIComponent('$device:D')}`)).json).toMatchObject({
      distinct_id: '$device:D',
      properties: { plan: 'anon' },
    });
  });
});

describe('identity resolution', () => {
  it('attributes anonymous events to the user retroactively, marking them as re-attributed', async () => {
    const { url } = await collector();
    await sequence(url, [event('browse', { device: 'D' })]);
    const before = (await send(url, '/api/events?distinct_id=D')).json.events[0];
    expect(before.distinct_id).toBe('$device:D');
    expect(before.properties.$is_reshuffled).toBeUndefined();
    await sequence(url, [event('signup', { device: 'D', user: 'U' })]);
    const after = (await send(url, '/api/events?distinct_id=U')).json.events[0];
    expect(after).toMatchObject({ event: 'browse', original_distinct_id: '$device:D', distinct_id: 'U', user_id: null, device_id: 'D' });
    expect(after.properties).toMatchObject({ distinct_id: 'U', $distinct_id_before_identity: '$device:D', $is_reshuffled: true });
  });

  it('never relinks a device: first link wins by ingestion order, not by event time', async () => {
    const { url } = await collector();
    const now = Date.now();
    await sequence(url, [
      event('first', { device: 'D', user: 'A', time: now - 1000 }),
      event('older', { device: 'D', user: 'B', time: now - 86_400_000 }),
    ]);
    expect(await identity(url, 'D')).toEqual({ distinct_id: 'A', user_id: 'A', device_ids: ['D'] });
  });

  it('never merges two users, even when they share devices in every order', async () => {
    const { url } = await collector();
    await sequence(url, [
      event('a', { device: 'D1', user: 'A' }),
      event('b', { device: 'D2', user: 'B' }),
      event('c', { device: 'D1', user: 'B' }),
      event('d', { device: 'D2', user: 'A' }),
    ]);
    expect(await identity(url, 'A')).toEqual({ distinct_id: 'A', user_id: 'A', device_ids: ['D1'] });
    expect(await identity(url, 'B')).toEqual({ distinct_id: 'B', user_id: 'B', device_ids: ['D2'] });
    expect((await feed(url, 'A')).map(([name]) => name)).toEqual(['a', 'd']);
    expect((await feed(url, 'B')).map(([name]) => name)).toEqual(['b', 'c']);
  });

  it('puts no cap on the devices of one user', async () => {
    const { url } = await collector();
    const devices = Array.from({ length: 600 }, (_, i) => `dev-${String(i).padStart(4, '0')}`);
    const response = await importEvents(
      url,
      devices.map((device) => event('login', { device, user: 'many' })),
    );
    expect(response.json.num_records_imported).toBe(600);
    expect(await identity(url, 'many')).toEqual({ distinct_id: 'many', user_id: 'many', device_ids: devices });
  });

  it('overrides a distinct_id sent with $user_id, and one sent with only $device_id (C8, C9)', async () => {
    const { url } = await collector();
    await sequence(url, [event('a', { user: 'U' }, { distinct_id: 'something-else' }), event('b', { device: 'D' }, { distinct_id: 'X' })]);
    expect(await feed(url, 'U')).toEqual([['a', 'U', 'U']]);
    expect(await feed(url, 'D')).toEqual([['b', '$device:D', '$device:D']]);
    expect(await identity(url, 'X')).toBe(404);
  });

  it('with distinctIdWithDevice "user", takes an unprefixed distinct_id sent with only $device_id as the user (U7)', async () => {
    const { url } = await collector({ distinctIdWithDevice: 'user' });
    await sequence(url, [event('b', { device: 'D' }, { distinct_id: 'X' })]);
    expect(await identity(url, 'D')).toEqual({ distinct_id: 'X', user_id: 'X', device_ids: ['D'] });
  });

  it('keeps the identity state across a restart on a database file', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'idstitch-collector-'));
    try {
      const storage = join(dir, 'collector.sqlite');
      const first = await collector({ storage });
      await sequence(first.url, [event('a', { device: 'D', user: 'U' }), event('b', { device: 'D2' })]);
      await first.close();
      const second = await collector({ storage });
      await sequence(second.url, [event('c', { device: 'D', user: 'V' }), event('d', { device: 'D2', user: 'U' })]);
      expect(await identity(second.url, 'U')).toEqual({ distinct_id: 'U', user_id: 'U', device_ids: ['D', 'D2'] });
      expect((await feed(second.url, 'U')).map(([name]) => name)).toEqual(['a', 'b', 'd']);
      const users = (await send(second.url, '/api/users')).json.users as Array<{ distinct_id: string; event_count: number }>;
      expect(users.map((u) => [u.distinct_id, u.event_count]).sort()).toEqual([
        ['U', 3],
        ['V', 1],
      ]);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
