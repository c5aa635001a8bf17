import { describe, expect, it } from 'vitest';
import { collector, event, importEvents, send, trackEvents } from './helpers.js';

// Each UNCONFIRMED behaviour of mixpanel-contract §10 is a switch; these pin what the non-default value does.
describe('switches for UNCONFIRMED behaviours', () => {
  it('missingDistinctId "ip-hash" keys an event without ids by the client address on /import too (U6)', async () => {
    const { url, store } = await collector({ missingDistinctId: 'ip-hash' });
    expect((await importEvents(url, [event('a', {}, { distinct_id: undefined })])).json.num_records_imported).toBe(1);
    expect(store.allEvents()[0]!.distinctId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('devicePrefixedUserId "reject" refuses a $user_id starting with $device: (C15)', async () => {
    const accept = await collector();
    expect((await importEvents(accept.url, [event('a', { user: '$device:x' })])).status).toBe(200);
    const reject = await collector({ devicePrefixedUserId: 'reject' });
    expect((await importEvents(reject.url, [event('a', { user: '$device:x' })])).json.failed_records[0].field).toBe('properties.$user_id');
  });

  it('denylistedIdsOnTrack "accept" lets /track store placeholder ids (C16)', async () => {
    const reject = await collector();
    expect((await trackEvents(reject.url, [event('a', { device: 'null' })])).json.status).toBe(0);
    const accept = await collector({ denylistedIdsOnTrack: 'accept' });
    expect((await trackEvents(accept.url, [event('a', { device: 'null' })])).json.status).toBe(1);
  });

  it('truncateStrings "bytes" cuts at 255 UTF-8 bytes, false keeps strings whole (U11)', async () => {
    const long = 'é'.repeat(200); // 400 bytes, 200 characters
    const bytes = await collector({ truncateStrings: 'bytes' });
    await importEvents(bytes.url, [event('a', { device: 'D' }, { s: long })]);
    expect((await send(bytes.url, '/api/events?distinct_id=D')).json.events[0].properties.s).toBe('é'.repeat(127));
    const off = await collector({ truncateStrings: false });
    await importEvents(off.url, [event('a', { device: 'D' }, { s: 'x'.repeat(300) })]);
    expect((await send(off.url, '/api/events?distinct_id=D')).json.events[0].properties.s).toHaveLength(300);
  });

  it('keepIp keeps the ip property', async () => {
    const { url } = await collector({ keepIp: true });
    await importEvents(url, [event('a', { device: 'D' }, { ip: '203.0.113.9' })]);
    expect((await send(url, '/api/events?distinct_id=D')).json.events[0].properties.ip).toBe('203.0.113.9');
  });

  it('millisecondsFrom moves the seconds/milliseconds boundary (U10)', async () => {
    const now = Date.now();
    const { url } = await collector({ millisecondsFrom: 1e13, clock: () => now });
    // 1.7e12 is below the boundary: read as seconds, it lands far in the future.
    expect((await importEvents(url, [event('a', { device: 'D', time: now - 1000 })])).json.failed_records[0].message).toMatch(/future/);
  });

  it('identityFailureReason false leaves a conflicting event unmarked (U15)', async () => {
    const { url } = await collector({ identityFailureReason: false });
    await importEvents(url, [event('a', { device: 'D', user: 'U1' }), event('b', { device: 'D', user: 'U2' })]);
    expect((await send(url, '/api/events?distinct_id=U2')).json.events[0].properties).not.toHaveProperty('$identity_failure_reason');
  });

  it('requireInsertId false accepts strict events without $insert_id', async () => {
    const { url } = await collector({ requireInsertId: false });
    expect((await importEvents(url, [{ event: 'a', properties: { time: Date.now(), $device_id: 'D' } }])).json).toEqual({
      code: 200,
      num_records_imported: 1,
      status: 'OK',
    });
  });

  it('strictByDefault treats /import without strict= as strict', async () => {
    const legacy = await collector();
    expect((await importEvents(legacy.url, [event('a', { device: 'D' })], {}, 'verbose=1')).json).toEqual({ status: 1, error: null });
    const strict = await collector({ strictByDefault: true });
    expect((await importEvents(strict.url, [event('a', { device: 'D' })], {}, 'verbose=1')).json).toEqual({
      code: 200,
      num_records_imported: 1,
      status: 'OK',
    });
    expect((await importEvents(strict.url, [event('a', { device: 'D' })], {}, 'strict=0')).text).toBe('1');
  });

  it('maxBatchEvents, maxRequestBytes and maxProperties can be lowered for tests', async () => {
    const { url } = await collector({ maxBatchEvents: 2, maxRequestBytes: 2048, maxProperties: 5 });
    expect(
      (
        await importEvents(
          url,
          [1, 2, 3].map(() => event('a', { device: 'D' })),
        )
      ).json.error,
    ).toBe('request exceeds max limit of 2 events');
    expect((await importEvents(url, [event('a', { device: 'D' }, { s: 'x'.repeat(3000) })])).status).toBe(413);
    expect((await importEvents(url, [event('a', { device: 'D' }, { p: 1, q: 2 })])).json.failed_records[0].field).toBe('properties');
  });

  it('answers 400 to a query path that is not valid percent-encoding', async () => {
    const { url } = await collector();
    expect((await send(url, '/api/identity/%E0%A4%A')).status).toBe(400);
  });
});
