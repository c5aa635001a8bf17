import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { basic, collector, event, feed, gzipJson, importEvents, send, trackEvents } from './helpers.js';

const base64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64');
const stored = async (url: string, id: string): Promise<string[]> => (await feed(url, id)).map(([name]) => name);

describe('body encodings (contract §1.7)', () => {
  it('reads a JSON array and a single JSON object', async () => {
    const { url } = await collector();
    expect((await importEvents(url, [event('a', { device: 'D' }), event('b', { device: 'D' })])).json.num_records_imported).toBe(2);
    const single = await send(url, '/import?strict=1', {
      body: JSON.stringify(event('c', { device: 'D' })),
      headers: { 'content-type': 'application/json' },
    });
    expect(single.json).toEqual({ code: 200, num_records_imported: 1, status: 'OK' });
    expect(await stored(url, 'D')).toEqual(['a', 'b', 'c']);
  });

  it('reads NDJSON, failing only the line that is not JSON', async () => {
    const { url } = await collector();
    const body = [JSON.stringify(event('a', { device: 'D' })), '{not json', '', JSON.stringify(event('b', { device: 'D' }))].join('\n');
    const response = await send(url, '/import?strict=1', { body, headers: { 'content-type': 'application/x-ndjson' } });
    expect(response.status).toBe(400);
    expect(response.json.num_records_imported).toBe(2);
    expect(response.json.failed_records).toEqual([{ index: 1, insert_id: '', field: 'record', message: 'line 2 is not valid JSON' }]);
    expect(await stored(url, 'D')).toEqual(['a', 'b']);
  });

  it('reads a form with data= raw JSON and verbose as a form field (mixpanel-python)', async () => {
    const { url } = await collector();
    const body = new URLSearchParams({ data: JSON.stringify([event('a', { device: 'D' })]), verbose: '1', ip: '0' }).toString();
    const response = await send(url, '/track', { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(response.json).toEqual({ status: 1, error: null });
    expect(await stored(url, 'D')).toEqual(['a']);
  });

  it('reads a form with data= base64 JSON (mixpanel-node batches)', async () => {
    const { url } = await collector();
    const body = new URLSearchParams({ data: base64([event('a', { device: 'D' }), event('b', { device: 'D' })]) }).toString();
    const response = await send(url, '/track/', { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(response.text).toBe('1');
    expect(await stored(url, 'D')).toEqual(['a', 'b']);
  });

  it('reads data from the query string of a GET (mixpanel-node single calls)', async () => {
    const { url } = await collector();
    const response = await send(url, `/track?ip=0&verbose=0&data=${encodeURIComponent(base64(event('a', { device: 'D' })))}`);
    expect(response.status).toBe(200);
    expect(response.text).toBe('1');
    expect(await stored(url, 'D')).toEqual(['a']);
  });

  it('inflates gzip bodies, JSON and NDJSON', async () => {
    const { url } = await collector();
    const json = await send(url, '/import?strict=1', {
      body: gzipJson([event('a', { device: 'D' })]),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(json.json.num_records_imported).toBe(1);
    const ndjson = gzipSync([event('b', { device: 'D' }), event('c', { device: 'D' })].map((e) => JSON.stringify(e)).join('\n'));
    const lines = await send(url, '/import?strict=1', {
      body: ndjson,
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
    });
    expect(lines.json.num_records_imported).toBe(2);
    expect(await stored(url, 'D')).toEqual(['a', 'b', 'c']);
  });

  it('answers 400 to a body marked gzip that does not inflate, and to JSON that does not parse', async () => {
    const { url } = await collector();
    const bad = await send(url, '/import?strict=1', {
      body: Buffer.from([0x1f, 0x8b, 1, 2, 3, 4]),
      headers: { 'content-encoding': 'gzip' },
    });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 400, status: 'Bad Request' });
    const garbled = await send(url, '/import?strict=1', { body: '[{"event":', headers: { 'content-type': 'application/json' } });
    expect(garbled.json).toEqual({ code: 400, error: 'the data is not valid JSON', status: 'Bad Request' });
    expect((await send(url, '/track?verbose=1', { body: 'data=%7Bnope' })).json).toEqual({
      status: 0,
      error: 'the data is not valid JSON',
    });
  });

  it('answers "data, missing or empty" to an empty batch', async () => {
    const { url } = await collector();
    expect((await importEvents(url, [])).json).toEqual({
      code: 400,
      error: 'data, missing or empty',
      num_records_imported: 0,
      status: 'Bad Request',
    });
    expect((await trackEvents(url, [])).json).toEqual({ status: 0, error: 'data, missing or empty' });
  });
});

describe('strict /import validation (contract §2, §3.2, §4)', () => {
  it('ingests the good records of a partly bad batch and itemises the bad ones', async () => {
    const { url, store } = await collector();
    const now = Date.now();
    const batch = [
      event('ok-1', { device: 'D' }),
      { event: 'no-time', properties: { $insert_id: 'no-time', $device_id: 'D' } },
      { event: 'text-time', properties: { time: 'yesterday', $insert_id: 'text-time', $device_id: 'D' } },
      event('future', { device: 'D', time: now + 2 * 3_600_000 }),
      event('ancient', { device: 'D', time: 5 }),
      { event: 'long-id', properties: { time: now, $insert_id: 'x'.repeat(37), $device_id: 'D' } },
      { event: 'bad-id', properties: { time: now, $insert_id: 'has space', $device_id: 'D' } },
      { event: 'no-insert-id', properties: { time: now, $device_id: 'D' } },
      { event: '', properties: { time: now, $insert_id: 'blank-name', $device_id: 'D' } },
      event('placeholder', { user: 'undefined' }),
      event('no-ids', {}, { distinct_id: undefined }),
      event('ok-2', { device: 'D' }),
    ];
    const response = await importEvents(url, batch);
    expect(response.status).toBe(400);
    expect(response.json).toEqual({
      code: 400,
      error: 'some data points in the request failed validation',
      num_records_imported: 2,
      status: 'Bad Request',
      failed_records: [
        { index: 1, insert_id: 'no-time', field: 'properties.time', message: "'properties.time' is invalid: must not be missing" },
        {
          index: 2,
          insert_id: 'text-time',
          field: 'properties.time',
          message: "'properties.time' is invalid: must be specified as seconds since epoch",
        },
        {
          index: 3,
          insert_id: expect.any(String),
          field: 'properties.time',
          message: "'properties.time' is invalid: must not be in the future",
        },
        {
          index: 4,
          insert_id: expect.any(String),
          field: 'properties.time',
          message: "'properties.time' is invalid: must not be before 1971-01-01",
        },
        {
          index: 5,
          insert_id: 'x'.repeat(37),
          field: 'properties.$insert_id',
          message: expect.stringContaining("'properties.$insert_id' is invalid"),
        },
        {
          index: 6,
          insert_id: 'has space',
          field: 'properties.$insert_id',
          message: expect.stringContaining("'properties.$insert_id' is invalid"),
        },
        { index: 7, insert_id: '', field: 'properties.$insert_id', message: "'properties.$insert_id' is invalid: must not be missing" },
        { index: 8, insert_id: 'blank-name', field: 'event', message: "'event' must not be missing or blank" },
        { index: 9, insert_id: expect.any(String), field: 'properties.$user_id', message: expect.stringContaining('placeholder') },
        {
          index: 10,
          insert_id: expect.any(String),
          field: 'properties.distinct_id',
          message: "'properties.distinct_id' is invalid: must not be missing",
        },
      ],
    });
    expect(store.countEvents()).toBe(2);
    expect(await stored(url, 'D')).toEqual(['ok-1', 'ok-2']);
  });

  it('accepts seconds (float) and milliseconds, storing ms', async () => {
    const { url } = await collector();
    const ms = Date.now() - 60_000;
    await importEvents(url, [event('seconds', { device: 'D', time: ms / 1000 }), event('ms', { device: 'D', time: ms + 1 })]);
    const events = (await send(url, '/api/events?distinct_id=D')).json.events;
    expect(events.map((e: { time: number }) => e.time)).toEqual([ms, ms + 1]);
    expect(events[0].properties.time).toBe(ms);
  });

  it('stores a time less than an hour ahead as now (futureTime "clamp"), or refuses it with "reject"', async () => {
    const now = Date.now();
    const clamp = await collector({ clock: () => now });
    await importEvents(clamp.url, [event('soon', { device: 'D', time: now + 600_000 })]);
    expect((await send(clamp.url, '/api/events?distinct_id=D')).json.events[0].time).toBe(now);
    const reject = await collector({ clock: () => now, futureTime: 'reject' });
    expect((await importEvents(reject.url, [event('soon', { device: 'D', time: now + 600_000 })])).status).toBe(400);
  });

  it('refuses more than 2000 events in one request', async () => {
    const { url, store } = await collector();
    const response = await importEvents(
      url,
      Array.from({ length: 2001 }, () => event('x', { device: 'D' })),
    );
    expect(response.json).toEqual({
      code: 400,
      error: 'request exceeds max limit of 2000 events',
      num_records_imported: 0,
      status: 'Bad Request',
    });
    expect(store.countEvents()).toBe(0);
    expect(
      (
        await importEvents(
          url,
          Array.from({ length: 2000 }, () => event('x', { device: 'D' })),
        )
      ).json.num_records_imported,
    ).toBe(2000);
  });

  it('answers 413 to a body over 10 MB, plain or inflated from gzip', async () => {
    const { url, store } = await collector();
    const big = Array.from({ length: 1100 }, () => event('big', { device: 'D' }, { blob: 'y'.repeat(10_000) }));
    const plain = await importEvents(url, big);
    expect(plain.status).toBe(413);
    expect(plain.json).toEqual({ code: 413, error: 'request exceeds max limit of 10000000 bytes', status: 'Request Entity Too Large' });
    const bomb = await send(url, '/import?strict=1', { body: gzipJson(big), headers: { 'content-encoding': 'gzip' } });
    expect(bomb.status).toBe(413);
    expect(store.countEvents()).toBe(0);
  });

  it('refuses an event of 1 MB or more and one with 255 properties, accepting 254', async () => {
    const { url } = await collector();
    const props = (count: number): Record<string, number> => Object.fromEntries(Array.from({ length: count - 4 }, (_, i) => [`p${i}`, i]));
    const response = await importEvents(url, [
      event('huge', { device: 'D' }, { blob: 'z'.repeat(1_000_000) }),
      event('wide', { device: 'D' }, props(255)),
      event('just-fits', { device: 'D' }, props(254)),
      event('deep', { device: 'D' }, { a: { b: { c: { d: { e: 1 } } } } }),
    ]);
    expect(response.json.num_records_imported).toBe(1);
    expect(response.json.failed_records.map((r: { index: number; field: string }) => [r.index, r.field])).toEqual([
      [0, 'properties'],
      [1, 'properties'],
      [3, 'properties.a'],
    ]);
  });

  it('drops $ignore events silently, truncates long strings and never stores ip', async () => {
    const { url, store } = await collector();
    const response = await importEvents(url, [
      event('bot', { device: 'D' }, { $ignore: true }),
      event('kept', { device: 'D' }, { $ignore: '', note: 'n'.repeat(300), ip: '203.0.113.9', list: ['l'.repeat(400)] }),
    ]);
    expect(response.json).toEqual({ code: 200, num_records_imported: 2, status: 'OK' });
    expect(store.countEvents()).toBe(1);
    const properties = (await send(url, '/api/events?distinct_id=D')).json.events[0].properties;
    expect(properties.note).toHaveLength(255);
    expect(properties.list[0]).toHaveLength(255);
    expect(properties).not.toHaveProperty('ip');
  });

  it('names the insert id `$insert_id` in failed_records when failedRecordInsertIdKey says so (U1)', async () => {
    const { url } = await collector({ failedRecordInsertIdKey: '$insert_id' });
    const response = await importEvents(url, [{ event: 'x', properties: { $insert_id: 'abc', $device_id: 'D' } }]);
    expect(response.json.failed_records).toEqual([
      { index: 0, $insert_id: 'abc', field: 'properties.time', message: "'properties.time' is invalid: must not be missing" },
    ]);
  });

  it('reports identity verbs as objects, or fails the whole batch, when configured (U5)', async () => {
    const objects = await collector({ identityEventFailure: 'object' });
    const one = await importEvents(objects.url, [event('ok', { device: 'D' }), event('$merge', { device: 'D', user: 'U' })]);
    expect(one.json.num_records_imported).toBe(1);
    expect(one.json.failed_records).toEqual([
      {
        index: 1,
        insert_id: expect.any(String),
        field: 'event',
        message: 'identity events are not allowed when project is using simplified identity management',
      },
    ]);
    const batch = await collector({ identityEventScope: 'batch' });
    const all = await importEvents(batch.url, [event('ok', { device: 'D' }), event('$identify', { device: 'D', user: 'U' })]);
    expect(all.json.num_records_imported).toBe(0);
    expect(batch.store.countEvents()).toBe(0);
  });

  it('accepts an empty distinct_id without other ids and keeps it empty (C11)', async () => {
    const { url, store } = await collector();
    expect((await importEvents(url, [event('nobody', {})])).json).toEqual({ code: 200, num_records_imported: 1, status: 'OK' });
    expect(store.allEvents()[0]!.distinctId).toBe('');
  });

  it('accepts an event with only $device_id and $user_id: distinct_id is optional in Simplified projects (C13)', async () => {
    const { url } = await collector();
    const response = await importEvents(url, [
      { event: 'x', properties: { time: Date.now(), $insert_id: 'c13', $device_id: 'D', $user_id: 'U' } },
    ]);
    expect(response.json).toEqual({ code: 200, num_records_imported: 1, status: 'OK' });
  });
});

describe('/track answers (contract §3.1)', () => {
  it('answers 1 or 0 without verbose, {status, error} with it', async () => {
    const { url } = await collector();
    expect((await trackEvents(url, [event('a', { device: 'D' })], '')).text).toBe('1');
    const anonymous = { distinct_id: undefined };
    expect((await trackEvents(url, [event('b', {}, anonymous)], '')).text).toBe('0');
    expect((await trackEvents(url, [event('c', {}, anonymous)])).json).toEqual({
      status: 0,
      error: "'properties.distinct_id' is invalid: must not be missing",
    });
    expect((await trackEvents(url, [event('d', {}, anonymous), event('e', { device: 'D' })])).json).toEqual({ status: 1, error: null });
  });

  it('uses the arrival time for an event without one, and refuses events older than 5 days', async () => {
    const now = Date.now();
    const { url } = await collector({ clock: () => now });
    await trackEvents(url, [{ event: 'timeless', properties: { $device_id: 'D' } }]);
    expect((await send(url, '/api/events?distinct_id=D')).json.events[0].time).toBe(now);
    const old = await trackEvents(url, [event('old', { device: 'D', time: now - 6 * 86_400_000 })]);
    expect(old.json).toEqual({ status: 0, error: expect.stringContaining('last 5 days') });
    expect((await importEvents(url, [event('old', { device: 'D', time: now - 6 * 86_400_000 })])).json.num_records_imported).toBe(1);
  });

  it('answers a pixel with img=1 and JSONP with callback=', async () => {
    const { url } = await collector();
    const pixel = await send(url, `/track?img=1&data=${encodeURIComponent(base64(event('a', { device: 'D' })))}`);
    expect(pixel.headers.get('content-type')).toBe('image/gif');
    const jsonp = await send(url, `/track?callback=cb&verbose=1&data=${encodeURIComponent(base64(event('b', { device: 'D' })))}`);
    expect(jsonp.text).toBe('cb({"status":1,"error":null});');
  });

  it('hashes the client address into distinct_id with ip=1 when an event has no ids', async () => {
    const { url, store } = await collector();
    expect((await trackEvents(url, [event('a', {}, { distinct_id: undefined })], 'verbose=1&ip=1')).json).toEqual({
      status: 1,
      error: null,
    });
    expect(store.allEvents()[0]!.distinctId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('ignores events with another token while still answering 1, or counts them invalid with wrongTokenOnTrack "reject"', async () => {
    const silent = await collector({ token: 'right' });
    expect((await trackEvents(silent.url, [event('a', { device: 'D' }, { token: 'wrong' })])).json).toEqual({ status: 1, error: null });
    expect((await trackEvents(silent.url, [event('b', { device: 'D' }, { token: 'right' })])).json).toEqual({ status: 1, error: null });
    expect(silent.store.allEvents().map((e) => e.event)).toEqual(['b']);
    const strict = await collector({ token: 'right', wrongTokenOnTrack: 'reject' });
    expect((await trackEvents(strict.url, [event('a', { device: 'D' }, { token: 'wrong' })])).json.status).toBe(0);
  });

  it('serves every ingestion route with and without a trailing slash, GET and POST', async () => {
    const { url } = await collector();
    for (const path of ['/track', '/track/', '/import', '/import/', '/engage', '/engage/', '/groups', '/groups/']) {
      const get = await send(url, `${path}?data=`);
      expect(get.status, `GET ${path}`).toBe(200);
      const post = await send(url, path, { body: '[]', headers: { 'content-type': 'application/json' } });
      expect(post.status, `POST ${path}`).toBe(200);
    }
    expect((await send(url, '/track', { method: 'DELETE' })).status).toBe(405);
    // Any origin may post; only a page on a loopback origin is allowed credentials (see test/hostile/collector-exposure.test.ts).
    expect(
      (await send(url, '/track', { method: 'OPTIONS', headers: { origin: 'http://app.test' } })).headers.get('access-control-allow-origin'),
    ).toBe('*');
    expect(
      (await send(url, '/track', { method: 'OPTIONS', headers: { origin: 'http://localhost:3000' } })).headers.get(
        'access-control-allow-origin',
      ),
    ).toBe('http://localhost:3000');
  });
});

describe('/import authentication (contract §1.3)', () => {
  const unauthorized = { code: 401, error: 'Invalid credentials', status: 'Unauthorized' };

  it('accepts the project token as Basic username and refuses anything else with 401', async () => {
    const { url, store } = await collector({ token: 'tok' });
    expect((await importEvents(url, [event('a', { device: 'D' })], { authorization: basic('tok') })).status).toBe(200);
    for (const headers of [{}, { authorization: basic('nope') }, { authorization: 'Bearer tok' }] as Array<Record<string, string>>) {
      const response = await importEvents(url, [event('b', { device: 'D' })], headers);
      expect(response.status).toBe(401);
      expect(response.json).toEqual(unauthorized);
    }
    expect(store.countEvents()).toBe(1);
  });

  it('accepts the legacy secret, and a service account only with its project_id', async () => {
    const { url } = await collector({ secret: 'sec', serviceAccount: { username: 'sa.user', secret: 'sa-secret', projectId: 42 } });
    expect((await importEvents(url, [event('a', { device: 'D' })], { authorization: basic('sec') })).status).toBe(200);
    expect(
      (await importEvents(url, [event('b', { device: 'D' })], { authorization: basic('sa.user', 'sa-secret') }, 'strict=1&project_id=42'))
        .status,
    ).toBe(200);
    expect(
      (await importEvents(url, [event('c', { device: 'D' })], { authorization: 'Basic sa.user:sa-secret' }, 'strict=1&project_id=42'))
        .status,
    ).toBe(200);
    expect((await importEvents(url, [event('d', { device: 'D' })], { authorization: basic('sa.user', 'sa-secret') })).json).toEqual(
      unauthorized,
    );
    expect(
      (await importEvents(url, [event('e', { device: 'D' })], { authorization: basic('sa.user', 'sa-secret') }, 'strict=1&project_id=7'))
        .status,
    ).toBe(401);
    expect(
      (await importEvents(url, [event('f', { device: 'D' })], { authorization: basic('sa.user', 'wrong') }, 'strict=1&project_id=42'))
        .status,
    ).toBe(401);
  });

  it('answers legacy non-strict /import with status 1 even for wrong credentials, storing nothing (§1.3)', async () => {
    const { url, store } = await collector({ secret: 'sec' });
    const body = new URLSearchParams({ data: base64([event('a', { device: 'D' })]) }).toString();
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await send(url, '/import?verbose=1', { body, headers: { ...headers, authorization: basic('wrong') } })).json).toEqual({
      status: 1,
      error: null,
    });
    expect(store.countEvents()).toBe(0);
    expect((await send(url, '/import?verbose=1', { body, headers: { ...headers, authorization: basic('sec') } })).json).toEqual({
      status: 1,
      error: null,
    });
    expect(store.countEvents()).toBe(1);
    const loud = await collector({ secret: 'sec', legacyImportAuthFailure: '401' });
    expect((await send(loud.url, '/import?verbose=1', { body, headers: { ...headers, authorization: basic('wrong') } })).status).toBe(401);
  });

  it('with a token set, keeps ingestion open and the query and control APIs behind credentials', async () => {
    const { url } = await collector({ token: 'tok' });
    expect((await trackEvents(url, [event('a', { device: 'D' }, { token: 'tok' })])).json).toEqual({ status: 1, error: null });
    const denied = await send(url, '/api/users');
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await send(url, '/_control/faults')).status).toBe(401);
    expect((await send(url, '/api/users', { headers: { authorization: basic('tok') } })).status).toBe(200);
  });
});
