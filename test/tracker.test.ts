import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTracker, type IdstitchError, type Tracker } from '../src/index.js';
import { startIngestStub, type IngestStub } from './support/ingest-stub.js';

let stub: IngestStub;
let tracker: Tracker;
let errors: IdstitchError[];

beforeEach(async () => {
  stub = await startIngestStub();
  errors = [];
  tracker = createTracker({ apiHost: stub.url, onError: (error) => errors.push(error) });
});

afterEach(async () => {
  await tracker.shutdown({ timeoutMs: 1000 });
  await stub.close();
});

describe('Tracker.track outside a request', () => {
  it('sends the given device and user ids and leaves distinct_id to Mixpanel', async () => {
    tracker.track('Invoice Paid', { amount: 12 }, { deviceId: 'legacy-device-format-123', userId: 'u-7' });
    await tracker.flush();
    expect(stub.events()[0]!.properties).toMatchObject({
      distinct_id: '',
      $device_id: 'legacy-device-format-123',
      $user_id: 'u-7',
      amount: 12,
    });
  });

  it('drops a placeholder user or device id from the event, reports it, and still sends the event', async () => {
    tracker.track('Cron Ran', {}, { deviceId: 'null', userId: 'anonymous' });
    await tracker.flush();
    const [event] = stub.events();
    expect(event!.properties).not.toHaveProperty('$user_id');
    expect(event!.properties).not.toHaveProperty('$device_id');
    expect(errors.map((e) => e.code).sort()).toEqual(['IDSTITCH_INVALID_DEVICE_ID', 'IDSTITCH_INVALID_USER_ID']);
  });

  it('never mutates the properties object', async () => {
    const properties = { plan: 'pro' };
    tracker.track('Upgraded', properties);
    await tracker.flush();
    expect(properties).toEqual({ plan: 'pro' });
  });

  it('reports a full queue once per overflow, counting every dropped event', async () => {
    await tracker.shutdown();
    stub.otherwise('hang');
    tracker = createTracker({ apiHost: stub.url, maxQueueSize: 3, flushAt: 1, timeoutMs: 60_000, onError: (error) => errors.push(error) });
    for (let i = 0; i < 10; i++) tracker.track('Burst', { i });
    expect(tracker.stats()).toMatchObject({ tracked: 3, queued: 3, dropped: { queue_full: 7 } });
    expect(errors.filter((e) => e.code === 'IDSTITCH_QUEUE_FULL')).toHaveLength(1);
    await tracker.shutdown({ timeoutMs: 50 });
    expect(tracker.stats().dropped.shutdown_timeout).toBe(3);
  });

  it('accounts for every event: delivered or dropped under one reason', async () => {
    tracker.track('A');
    tracker.track('', {});
    tracker.track('B', { bad: () => 1 });
    tracker.track('C');
    await tracker.shutdown();
    tracker.track('Late');
    const stats = tracker.stats();
    expect(stats).toMatchObject({ tracked: 2, delivered: 2, queued: 0, dropped: { invalid_event: 2, tracker_closed: 1 } });
    expect(errors.map((e) => e.code)).toEqual(['IDSTITCH_INVALID_EVENT_NAME', 'IDSTITCH_INVALID_PROPERTIES', 'IDSTITCH_TRACKER_CLOSED']);
  });
});
