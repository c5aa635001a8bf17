import { describe, expect, it } from 'vitest';
import { collector, event, identity, importEvents, send, trackEvents } from './helpers.js';

describe('GET /api/identity/:id', () => {
  it('looks an id up as a user when it was seen as $user_id, as a device otherwise', async () => {
    const { url } = await collector();
    await importEvents(url, [event('a', { device: 'D1', user: 'U' }), event('b', { device: 'D0' }), event('c', { device: 'U' })]);
    expect(await identity(url, 'U')).toEqual({ distinct_id: 'U', user_id: 'U', device_ids: ['D1'] });
    // "U" is also a device id; $device:U names the device, which is anonymous.
    expect(await identity(url, '$device:U')).toEqual({ distinct_id: '$device:U', user_id: null, device_ids: ['U'] });
    expect(await identity(url, 'D0')).toEqual({ distinct_id: '$device:D0', user_id: null, device_ids: ['D0'] });
    expect(await identity(url, 'D1')).toEqual({ distinct_id: 'U', user_id: 'U', device_ids: ['D1'] });
  });

  it('answers 404 in the error shape for an id nobody used, including $device:<user id>', async () => {
    const { url } = await collector();
    await importEvents(url, [event('a', { user: 'U' })]);
    const missing = await send(url, '/api/identity/nobody');
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ code: 404, error: 'no user or device has the id "nobody"', status: 'Not Found' });
    expect(await identity(url, '$device:U')).toBe(404);
  });

  it('decodes ids with reserved URL characters', async () => {
    const { url } = await collector();
    await importEvents(url, [event('a', { device: 'a/b c?d', user: 'user@example.com' })]);
    expect(await identity(url, 'a/b c?d')).toEqual({
      distinct_id: 'user@example.com',
      user_id: 'user@example.com',
      device_ids: ['a/b c?d'],
    });
  });
});

describe('GET /api/events', () => {
  it('returns the cluster in time order in the documented shape', async () => {
    const { url } = await collector();
    const now = Date.now();
    await importEvents(url, [
      event('second', { device: 'D', time: now - 2000 }, { plan: 'free' }),
      event('first', { device: 'D', time: now - 3000 }),
      event('login', { device: 'D', user: 'U', time: now - 1000 }),
    ]);
    const response = await send(url, '/api/events?distinct_id=D');
    expect(response.status).toBe(200);
    expect(Object.keys(response.json)).toEqual(['events']);
    expect(response.json.events.map((e: { event: string }) => e.event)).toEqual(['first', 'second', 'login']);
    const second = response.json.events[1];
    expect(Object.keys(second).sort()).toEqual([
      'device_id',
      'distinct_id',
      'event',
      'insert_id',
      'original_distinct_id',
      'properties',
      'time',
      'user_id',
    ]);
    expect(second).toMatchObject({
      event: 'second',
      time: now - 2000,
      insert_id: expect.stringMatching(/^ins-/),
      device_id: 'D',
      user_id: null,
      original_distinct_id: '$device:D',
      distinct_id: 'U',
      properties: { plan: 'free', $device_id: 'D', time: now - 2000 },
    });
  });

  it('hides duplicates (same event, distinct_id, time, $insert_id) showing the latest copy, and keeps them in the raw view', async () => {
    const { url } = await collector();
    const original = event('purchase', { device: 'D', user: 'U' }, { amount: 1 });
    const retry = { ...original, properties: { ...(original.properties as object), amount: 2 } };
    await importEvents(url, [original]);
    await importEvents(url, [retry]);
    await importEvents(url, [event('purchase', { device: 'D', user: 'U' }, { amount: 3 })]);
    const deduped = (await send(url, '/api/events?distinct_id=U')).json.events;
    expect(deduped.map((e: { properties: { amount: number } }) => e.properties.amount)).toEqual([2, 3]);
    const raw = (await send(url, '/api/events?distinct_id=U&raw=1')).json.events;
    expect(raw.map((e: { properties: { amount: number }; duplicate: boolean }) => [e.properties.amount, e.duplicate])).toEqual([
      [1, true],
      [2, false],
      [3, false],
    ]);
  });

  it('never de-duplicates events without $insert_id', async () => {
    const { url } = await collector();
    const bare = { event: 'tap', properties: { time: Date.now() - 1000, $device_id: 'D' } };
    await trackEvents(url, [bare, bare]);
    expect((await send(url, '/api/events?distinct_id=D')).json.events).toHaveLength(2);
  });

  it('keys de-duplication on the stored distinct_id by default, on the resolved one with dedupeBy "canonical" (U9)', async () => {
    for (const [dedupeBy, expected] of [
      ['stored', 2],
      ['canonical', 1],
    ] as const) {
      const { url } = await collector({ dedupeBy });
      const anonymous = event('view', { device: 'D' });
      await importEvents(url, [anonymous, event('login', { device: 'D', user: 'U' })]);
      // The same logical event resent after login carries the user: stored as U, not $device:D.
      await importEvents(url, [{ ...anonymous, properties: { ...(anonymous.properties as object), $user_id: 'U' } }]);
      const views = (await send(url, '/api/events?distinct_id=U')).json.events.filter((e: { event: string }) => e.event === 'view');
      expect(views, dedupeBy).toHaveLength(expected);
    }
  });

  it('says when the list was cut by limit', async () => {
    const { url } = await collector();
    await importEvents(
      url,
      Array.from({ length: 5 }, () => event('x', { device: 'D' })),
    );
    const cut = await send(url, '/api/events?distinct_id=D&limit=3');
    expect(cut.json.events).toHaveLength(3);
    expect(cut.json.truncated).toBe(true);
    expect((await send(url, '/api/events?distinct_id=D&limit=5')).json).not.toHaveProperty('truncated');
    expect((await send(url, '/api/events?distinct_id=D&limit=0')).status).toBe(400);
  });

  it('answers 404 for an unknown id and 400 without one', async () => {
    const { url } = await collector();
    expect((await send(url, '/api/events?distinct_id=ghost')).json).toEqual({
      code: 404,
      error: 'no user or device has the id "ghost"',
      status: 'Not Found',
    });
    expect((await send(url, '/api/events')).status).toBe(400);
  });
});

describe('GET /api/users', () => {
  it('lists every cluster with its devices and de-duplicated event count, most recent first', async () => {
    const { url } = await collector();
    const now = Date.now();
    const dup = event('a', { device: 'D1', time: now - 5000 });
    await importEvents(url, [
      dup,
      dup,
      event('b', { device: 'D1', user: 'U', time: now - 4000 }),
      event('c', { device: 'D2', time: now - 4500 }),
    ]);
    await importEvents(url, [event('d', { device: 'D3', time: now - 1000 })]);
    const response = await send(url, '/api/users');
    expect(response.json).toEqual({
      users: [
        { distinct_id: '$device:D3', user_id: null, device_ids: ['D3'], event_count: 1, first_time: now - 1000, last_time: now - 1000 },
        { distinct_id: 'U', user_id: 'U', device_ids: ['D1'], event_count: 2, first_time: now - 5000, last_time: now - 4000 },
        { distinct_id: '$device:D2', user_id: null, device_ids: ['D2'], event_count: 1, first_time: now - 4500, last_time: now - 4500 },
      ],
    });
  });

  it('is empty before any event', async () => {
    const { url } = await collector();
    expect((await send(url, '/api/users')).json).toEqual({ users: [] });
  });
});

describe('GET /api/profiles/:distinct_id', () => {
  it('returns the profile under its exact distinct_id, 404 otherwise', async () => {
    const { url } = await collector();
    await send(url, '/engage', { body: JSON.stringify([{ $distinct_id: 'U', $set: { name: 'Ann' }, $time: 1_700_000_000_000 }]) });
    expect((await send(url, '/api/profiles/U')).json).toEqual({
      distinct_id: 'U',
      properties: { name: 'Ann' },
      last_seen: 1_700_000_000_000,
    });
    expect((await send(url, '/api/profiles/u')).status).toBe(404);
  });

  it('answers 404 to unknown query paths and 405 to writes', async () => {
    const { url } = await collector();
    expect((await send(url, '/api/nothing')).status).toBe(404);
    expect((await send(url, '/api/users', { method: 'POST', body: '{}' })).status).toBe(405);
    expect((await send(url, '/elsewhere')).status).toBe(404);
  });
});
