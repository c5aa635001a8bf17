import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { COLLECTOR_DEFAULTS, startCollector } from '../../src/collector/index.js';
import { deriveIdentity } from '../../src/id-merge.js';
import { collector, send } from './helpers.js';

describe('startCollector', () => {
  it('binds to 127.0.0.1 and reports its URL and port', async () => {
    const started = await collector();
    expect(started.url).toBe(`http://127.0.0.1:${started.port}`);
    expect(started.port).toBeGreaterThan(0);
    expect((await send(started.url, '/')).json).toMatchObject({ name: 'idstitch collector' });
  });

  it('closes idempotently, ending keep-alive connections', async () => {
    const started = await startCollector({ port: 0 });
    await send(started.url, '/api/users');
    await Promise.all([started.close(), started.close()]);
    await expect(send(started.url, '/api/users')).rejects.toThrow();
  });

  it('rejects when the port is taken', async () => {
    const first = await collector();
    await expect(startCollector({ port: first.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it.each([
    [{ nope: 1 }, 'nope'],
    [{ port: -1 }, 'port'],
    [{ dedupeBy: 'latest' }, 'dedupeBy'],
    [{ truncateStrings: 'words' }, 'truncateStrings'],
    [{ strictByDefault: 'yes' }, 'strictByDefault'],
    [{ serviceAccount: { username: 'u', secret: 's', projectId: 'abc' } }, 'serviceAccount.projectId'],
    [{ faults: [{ kind: 'explode' }] }, 'faults'],
    [{ faults: [{ kind: 'status', status: 429, times: 0 }] }, 'faults'],
    [{ token: '' }, 'token'],
  ])('refuses %j naming the option', async (options, option) => {
    const attempt = startCollector(options as never);
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toMatchObject({ code: 'IDSTITCH_INVALID_OPTION', option });
  });

  it('documents the recommended defaults of the UNCONFIRMED behaviours', () => {
    expect(COLLECTOR_DEFAULTS).toMatchObject({
      port: 7600,
      host: '127.0.0.1',
      storage: ':memory:',
      maxBatchEvents: 2000,
      maxRequestBytes: 10_000_000,
      maxProperties: 254,
      futureTime: 'clamp',
      failedRecordInsertIdKey: 'insert_id',
      identityEventFailure: 'string',
      dedupeBy: 'stored',
      profileRouting: 'exact',
      identityFailureReason: true,
    });
  });
});

describe('deriveIdentity (contract §5.3)', () => {
  const rules = { distinctIdWithDevice: 'override' } as const;
  it.each([
    ['C1 device only', { deviceId: 'D' }, { deviceId: 'D', userId: undefined, distinctId: '$device:D' }],
    ['C2 user only', { userId: 'U' }, { deviceId: undefined, userId: 'U', distinctId: 'U' }],
    ['C3 both', { deviceId: 'D', userId: 'U' }, { deviceId: 'D', userId: 'U', distinctId: 'U' }],
    ['C6 prefixed distinct_id', { distinctId: '$device:D' }, { deviceId: 'D', userId: undefined, distinctId: '$device:D' }],
    ['C7 bare distinct_id', { distinctId: 'X' }, { deviceId: undefined, userId: 'X', distinctId: 'X' }],
    ['C8 distinct_id overridden by user', { distinctId: 'X', userId: 'U' }, { deviceId: undefined, userId: 'U', distinctId: 'U' }],
    [
      'C9 distinct_id overridden by device',
      { distinctId: 'X', deviceId: 'D' },
      { deviceId: 'D', userId: undefined, distinctId: '$device:D' },
    ],
    ['C11 empty distinct_id', { distinctId: '' }, { deviceId: undefined, userId: undefined, distinctId: '' }],
    ['C12 nothing', {}, { deviceId: undefined, userId: undefined, distinctId: undefined }],
    [
      'C14 one prefix stripped',
      { deviceId: '$device:$device:D' },
      { deviceId: '$device:D', userId: undefined, distinctId: '$device:$device:D' },
    ],
    ['empty ids count as absent', { deviceId: '', userId: '', distinctId: 'X' }, { deviceId: undefined, userId: 'X', distinctId: 'X' }],
  ])('%s', (_, input, expected) => {
    expect(deriveIdentity({ distinctId: undefined, deviceId: undefined, userId: undefined, ...input }, rules)).toEqual(expected);
  });
});

describe('our tracker against the collector', () => {
  it('delivers gzip batches to strict /import with token auth, and the link shows retroactively', async () => {
    const { createTracker } = await import('../../src/index.js');
    const started = await collector({ token: 'tok' });
    const errors: unknown[] = [];
    const tracker = createTracker({ apiHost: started.url, token: 'tok', onError: (error) => errors.push(error), logger: false });
    const deviceId = '0b6f2d1e-3c4a-4f5b-8a9c-1d2e3f405162';
    tracker.track('Viewed Page', { path: '/' }, { deviceId });
    tracker.track('Signed Up', {}, { deviceId, userId: 'user-42' });
    await tracker.shutdown({ timeoutMs: 5000 });
    expect(errors).toEqual([]);
    const auth = { authorization: 'Basic ' + Buffer.from('tok:').toString('base64') };
    const events = (await send(started.url, '/api/events?distinct_id=user-42', { headers: auth })).json.events;
    expect(
      events.map((e: { event: string; original_distinct_id: string; distinct_id: string }) => [
        e.event,
        e.original_distinct_id,
        e.distinct_id,
      ]),
    ).toEqual([
      ['Viewed Page', `$device:${deviceId}`, 'user-42'],
      ['Signed Up', 'user-42', 'user-42'],
    ]);
  });

  it('delivers to /track with the token in each event', async () => {
    const { createTracker } = await import('../../src/index.js');
    const started = await collector({ token: 'tok', wrongTokenOnTrack: 'reject' });
    const errors: unknown[] = [];
    const tracker = createTracker({
      apiHost: started.url,
      token: 'tok',
      endpoint: 'track',
      onError: (error) => errors.push(error),
      logger: false,
    });
    tracker.track('Clicked', {}, { deviceId: '0b6f2d1e-3c4a-4f5b-8a9c-1d2e3f405162' });
    await tracker.shutdown({ timeoutMs: 5000 });
    expect(errors).toEqual([]);
    expect(started.store.allEvents().map((e) => [e.event, e.endpoint])).toEqual([['Clicked', 'track']]);
  });
});
