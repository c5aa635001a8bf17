import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTracker, type IdstitchError, type Tracker, type TrackerOptions } from '../src/index.js';
import { startIngestStub, type IngestStub, type MixpanelEvent } from './support/ingest-stub.js';

// Request-body schemas from Mixpanel's OpenAPI description of its ingestion API, extracted by
// test/fixtures/extract-import-schema.mjs: the root is POST /import, definitions.track is POST /track.
const schema = JSON.parse(readFileSync(new URL('./fixtures/mixpanel-import-request.schema.json', import.meta.url), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: true });
ajv.addSchema(schema, 'mixpanel');
const importRequest = ajv.getSchema('mixpanel')!;
const trackRequest = ajv.getSchema('mixpanel#/definitions/track')!;

const TOKEN = 'conformance-token';
/** The `$insert_id` format strict /import accepts (contract §4); the OpenAPI file only says "string". */
const INSERT_ID = /^[A-Za-z0-9-]{1,36}$/;
const SIGNED_UP = new Date('2026-01-02T03:04:05.000Z');

let stub: IngestStub;
let errors: IdstitchError[];
let tracker: Tracker | undefined;

beforeEach(async () => {
  stub = await startIngestStub();
  errors = [];
});

afterEach(async () => {
  await tracker?.shutdown({ timeoutMs: 1000 });
  tracker = undefined;
  await stub.close();
});

function trackerFor(options: TrackerOptions): Tracker {
  tracker = createTracker({
    apiHost: stub.url,
    token: TOKEN,
    flushAt: 8, // several batches from the mix below
    superProperties: { app: 'web', release: '1.2.3' },
    onError: (error) => errors.push(error),
    ...options,
  });
  return tracker;
}

/** What a web app sends in a day, in miniature: 40 events. */
function trackRealisticMix(t: Tracker): number {
  const eventTime = new Date(Date.now() - 60_000);
  for (let visitor = 0; visitor < 5; visitor++) {
    const deviceId = `5b7a0c1e-0000-4000-8000-00000000000${visitor}`;
    const userId = `user-${visitor}`;
    // Anonymous browsing.
    t.track('Viewed Page', { path: '/pricing', referrer: 'https://www.google.com/', $referring_domain: 'www.google.com' }, { deviceId });
    t.track('Searched', { query: 'crème brûlée 🍮', results: 0, filters: null, exact: false }, { deviceId });
    // The login event links device and user; afterwards both ids travel.
    t.track('User Identified', {}, { deviceId, userId });
    t.track(
      'Added to Cart',
      { cart: { items: [{ sku: 'A1', qty: 2, price: 9.5 }], total: 19 }, tags: ['sale', 'new'] },
      { deviceId, userId },
    );
    t.track('Signed Up', { signedUpAt: SIGNED_UP, time: eventTime, plan: 'pro', seats: 3 }, { deviceId, userId });
    t.track('Order Placed', { $insert_id: `order-${visitor}`, amount: 42.5, currency: 'EUR', coupons: [] }, { deviceId, userId });
    // Server-side: only the user is known.
    t.track('Invoice Paid', { invoice: { id: `inv-${visitor}`, lines: [{ amount: 42.5 }] } }, { userId });
    t.track('Exported Report', { rows: 1200, format: 'csv', nested: { a: { b: 'deepest allowed' } } }, { userId });
  }
  return 40;
}

function validateEveryBatch(validate: ValidateFunction): MixpanelEvent[] {
  expect(stub.requests.length).toBeGreaterThanOrEqual(3);
  for (const request of stub.requests) {
    const body = JSON.parse(request.body.toString('utf8')) as unknown;
    const valid = validate(body);
    expect(valid, ajv.errorsText(validate.errors)).toBe(true);
  }
  return stub.requests.flatMap((request) => request.events);
}

describe("conformance with Mixpanel's published request schemas", () => {
  it('sends /import batches that match the POST /import request schema', async () => {
    const t = trackerFor({ endpoint: 'import' });
    const count = trackRealisticMix(t);
    await t.flush();

    expect(stub.requests.every((request) => request.headers['content-encoding'] === 'gzip')).toBe(true);
    const events = validateEveryBatch(importRequest);
    expect(events).toHaveLength(count);
    for (const { properties } of events) {
      expect(properties.$insert_id).toMatch(INSERT_ID);
      expect(properties.token).toBeUndefined(); // /import authenticates by header
    }
    // Dates: the event time as integer ms, other Date properties as ISO 8601 strings.
    const signedUp = events.find((event) => event.event === 'Signed Up')!;
    expect(Number.isInteger(signedUp.properties.time)).toBe(true);
    expect(signedUp.properties.signedUpAt).toBe(SIGNED_UP.toISOString());
    expect(errors).toEqual([]);
  });

  it('sends /track batches that match the POST /track request schema, with the token in each event', async () => {
    const t = trackerFor({ endpoint: 'track' });
    const count = trackRealisticMix(t);
    await t.flush();

    for (const request of stub.requests) {
      expect(request.path).toBe('/track');
      expect(request.headers.authorization).toBeUndefined();
    }
    const events = validateEveryBatch(trackRequest);
    expect(events).toHaveLength(count);
    for (const { properties } of events) {
      expect(properties.token).toBe(TOKEN);
      expect(properties.$insert_id).toMatch(INSERT_ID);
    }
    expect(t.stats().delivered).toBe(count);
    expect(errors).toEqual([]);
  });

  it('uses a schema that refuses what strict /import refuses, so passing it means something', async () => {
    const t = trackerFor({ endpoint: 'import' });
    t.track('Viewed Page', {}, { deviceId: 'device-1' });
    await t.flush();
    const [sent] = stub.requests[0]!.events;
    expect(importRequest([sent])).toBe(true);

    const without = (key: string): MixpanelEvent => {
      const properties = { ...sent!.properties };
      delete properties[key];
      return { event: sent!.event, properties };
    };
    expect(importRequest([without('$insert_id')])).toBe(false);
    expect(importRequest([without('time')])).toBe(false);
    expect(importRequest([without('distinct_id')])).toBe(false);
    expect(importRequest([{ ...sent!, properties: { ...sent!.properties, time: new Date().toISOString() } }])).toBe(false);
    expect(importRequest([{ ...sent!, token: TOKEN }])).toBe(false); // unknown top-level keys are refused
    expect(importRequest([])).toBe(false);
  });
});
