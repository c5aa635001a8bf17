import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { collector, event, importEvents, send } from './helpers.js';

async function engage(url: string, updates: unknown[], query = 'verbose=1'): Promise<any> {
  return (await send(url, `/engage?${query}`, { body: JSON.stringify(updates), headers: { 'content-type': 'application/json' } })).json;
}

async function profile(url: string, id: string): Promise<Record<string, unknown> | number> {
  const response = await send(url, `/api/profiles/${encodeURIComponent(id)}`);
  return response.status === 200 ? response.json.properties : response.status;
}

describe('/engage profile operations (contract §1.4)', () => {
  it('applies $set, $set_once, $add, $append, $union, $remove and $unset in order', async () => {
    const { url } = await collector();
    expect(
      await engage(url, [
        { $distinct_id: 'U', $set: { name: 'Ann', plan: 'free', gone: 1 } },
        { $distinct_id: 'U', $set_once: { name: 'Bob', first_seen: 'today' } },
        { $distinct_id: 'U', $add: { logins: 1 } },
        { $distinct_id: 'U', $add: { logins: 2, credits: -5 } },
        { $distinct_id: 'U', $append: { pages: '/a' } },
        { $distinct_id: 'U', $append: { pages: '/b' } },
        { $distinct_id: 'U', $union: { tags: ['x', 'y'] } },
        { $distinct_id: 'U', $union: { tags: ['y', 'z'] } },
        { $distinct_id: 'U', $remove: { tags: 'x' } },
        { $distinct_id: 'U', $unset: ['gone'] },
        { $distinct_id: 'U', $set: { plan: 'pro' } },
      ]),
    ).toEqual({ status: 1, error: null });
    expect(await profile(url, 'U')).toEqual({
      name: 'Ann',
      plan: 'pro',
      first_seen: 'today',
      logins: 3,
      credits: -5,
      pages: ['/a', '/b'],
      tags: ['y', 'z'],
    });
  });

  it('deletes a profile with $delete', async () => {
    const { url } = await collector();
    await engage(url, [
      { $distinct_id: 'U', $set: { a: 1 } },
      { $distinct_id: 'U', $delete: '' },
    ]);
    expect(await profile(url, 'U')).toBe(404);
  });

  it('keys profiles by the exact distinct_id: a device profile stays apart from the user after linking (U8 "exact")', async () => {
    const { url } = await collector();
    await importEvents(url, [event('login', { device: 'D', user: 'U' })]);
    await engage(url, [{ $distinct_id: '$device:D', $set: { anon: true } }]);
    expect(await profile(url, 'U')).toBe(404);
    expect(await profile(url, '$device:D')).toEqual({ anon: true });
  });

  it('routes $device:D updates to the linked user with profileRouting "cluster"', async () => {
    const { url } = await collector({ profileRouting: 'cluster' });
    await importEvents(url, [event('login', { device: 'D', user: 'U' })]);
    await engage(url, [{ $distinct_id: '$device:D', $set: { anon: true } }]);
    expect(await profile(url, 'U')).toEqual({ anon: true });
  });

  it('reads the encodings mixpanel-node and mixpanel-js use: GET data=base64, form data=JSON', async () => {
    const { url } = await collector();
    const data = Buffer.from(JSON.stringify({ $token: 't', $distinct_id: 'U', $set: { via: 'get' } })).toString('base64');
    expect((await send(url, `/engage?ip=0&verbose=0&data=${encodeURIComponent(data)}`)).text).toBe('1');
    const form = new URLSearchParams({ data: JSON.stringify([{ $distinct_id: 'V', $set: { via: 'form' } }]) }).toString();
    expect((await send(url, '/engage/', { body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } })).text).toBe('1');
    expect(await profile(url, 'U')).toEqual({ via: 'get' });
    expect(await profile(url, 'V')).toEqual({ via: 'form' });
  });

  it('refuses gzip when gzipProfiles is false (U12), accepts it by default', async () => {
    const body = gzipSync(JSON.stringify([{ $distinct_id: 'U', $set: { a: 1 } }]));
    const open = await collector();
    expect((await send(open.url, '/engage', { body, headers: { 'content-encoding': 'gzip' } })).text).toBe('1');
    const closed = await collector({ gzipProfiles: false });
    expect((await send(closed.url, '/engage', { body, headers: { 'content-encoding': 'gzip' } })).status).toBe(415);
  });

  it('answers 0 or the first error for invalid updates, and itemises them with strict=1', async () => {
    const { url } = await collector();
    expect(await engage(url, [{ $set: { a: 1 } }])).toEqual({ status: 0, error: "'$distinct_id' must not be missing or blank" });
    expect(await engage(url, [{ $distinct_id: 'U', $add: { n: 'one' } }])).toEqual({ status: 0, error: "'$add' values must be numbers" });
    expect(await engage(url, [{ $distinct_id: 'U', $rename: {} }])).toEqual({
      status: 0,
      error: expect.stringContaining('not a profile operation'),
    });
    const strict = await send(url, '/engage?strict=1', {
      body: JSON.stringify([
        { $distinct_id: 'U', $set: { ok: 1 } },
        { $distinct_id: 'null', $set: {} },
      ]),
    });
    expect(strict.status).toBe(400);
    expect(strict.json).toEqual({
      code: 400,
      error: 'some data points in the request failed validation',
      failed_records: [{ index: 1, field: '$distinct_id', message: expect.stringContaining('placeholder') }],
      num_good_events: 1,
      status: 'Bad Request',
    });
    expect(await profile(url, 'U')).toEqual({ ok: 1 });
  });

  it('ignores updates carrying another token when a token is configured', async () => {
    const { url } = await collector({ token: 'tok' });
    expect(
      await engage(url, [
        { $token: 'other', $distinct_id: 'U', $set: { a: 1 } },
        { $token: 'tok', $distinct_id: 'V', $set: { a: 1 } },
      ]),
    ).toEqual({ status: 1, error: null });
    const headers = { authorization: 'Basic ' + Buffer.from('tok:').toString('base64') };
    expect((await send(url, '/api/profiles/U', { headers })).status).toBe(404);
    expect((await send(url, '/api/profiles/V', { headers })).status).toBe(200);
  });
});

describe('/groups (contract §1.5)', () => {
  it('accepts group profile updates keyed by group key and id', async () => {
    const { url, store } = await collector();
    const response = await send(url, '/groups?verbose=1', {
      body: JSON.stringify([
        { $group_key: 'company', $group_id: 'acme', $set: { plan: 'pro' } },
        { $group_key: 'company', $group_id: 'acme', $union: { regions: ['eu'] } },
      ]),
    });
    expect(response.json).toEqual({ status: 1, error: null });
    expect(store.getGroup('company', 'acme')).toEqual({ plan: 'pro', regions: ['eu'] });
    expect(
      (await send(url, '/groups?verbose=1', { body: JSON.stringify([{ $group_key: 'company', $group_id: 'acme', $add: { n: 1 } }]) })).json
        .status,
    ).toBe(0);
  });
});
