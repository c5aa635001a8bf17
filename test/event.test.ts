import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildEvent, type EventContext } from '../src/event.js';
import { InvalidEventError } from '../src/errors.js';

const context: EventContext = { endpoint: 'import', token: 'secret-token', superProperties: undefined };
const NOW = 1_790_000_000_000;
const identity = { deviceId: '6f1c2a4e-9b7d-4c3e-8a2f-1d0e9c8b7a65', userId: 'u-42' };

function parse(json: string): { event: string; properties: Record<string, unknown> } {
  return JSON.parse(json) as { event: string; properties: Record<string, unknown> };
}

function refusal(fn: () => unknown): InvalidEventError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventError);
    return error as InvalidEventError;
  }
  throw new Error('expected the event to be refused');
}

describe('buildEvent', () => {
  it('leaves distinct_id empty and sends $device_id, $user_id, time in ms and an $insert_id', () => {
    const { properties, event } = parse(buildEvent(context, 'Viewed Pricing', { plan: 'pro' }, identity, NOW).json);
    expect(event).toBe('Viewed Pricing');
    expect(properties).toMatchObject({
      distinct_id: '',
      $device_id: identity.deviceId,
      $user_id: 'u-42',
      time: NOW,
      plan: 'pro',
      mp_lib: 'idstitch',
      ip: '0',
    });
    expect(properties.$insert_id).toMatch(/^[A-Za-z0-9-]{1,36}$/);
  });

  it('omits $user_id for an anonymous request', () => {
    const { properties } = parse(buildEvent(context, 'Viewed Home', undefined, { deviceId: identity.deviceId }, NOW).json);
    expect(properties).not.toHaveProperty('$user_id');
    expect(properties.$device_id).toBe(identity.deviceId);
  });

  it('puts the token in events only for /track, which authenticates by it', () => {
    expect(parse(buildEvent(context, 'E', {}, identity, NOW).json).properties).not.toHaveProperty('token');
    const track = parse(buildEvent({ ...context, endpoint: 'track' }, 'E', {}, identity, NOW).json);
    expect(track.properties.token).toBe('secret-token');
  });

  it('gives every event its own $insert_id, and keeps a valid one the caller chose', () => {
    const a = parse(buildEvent(context, 'E', {}, identity, NOW).json).properties.$insert_id;
    const b = parse(buildEvent(context, 'E', {}, identity, NOW).json).properties.$insert_id;
    expect(a).not.toBe(b);
    const mine = parse(buildEvent(context, 'E', { $insert_id: 'order-123' }, identity, NOW).json);
    expect(mine.properties.$insert_id).toBe('order-123');
  });

  it('draws $insert_ids of one width from a counter, unique across its base-36 carries', () => {
    const ids = Array.from(
      { length: 36 * 40 + 7 },
      () => parse(buildEvent(context, 'E', {}, identity, NOW).json).properties.$insert_id as string,
    );
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{20}-[0-9a-z]{11}$/);
    // One process, one prefix; the counter part counts up by one, carries included.
    expect(new Set(ids.map((id) => id.slice(0, 21))).size).toBe(1);
    const counts = ids.map((id) => parseInt(id.slice(21), 36));
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBe(counts[i - 1]! + 1);
  });

  it('lets event properties win over super properties, and never mutates either', () => {
    const superProperties = Object.freeze({ app: 'web', plan: 'free' });
    const props = Object.freeze({ plan: 'pro' });
    const { properties } = parse(buildEvent({ ...context, superProperties }, 'E', props, identity, NOW).json);
    expect(properties).toMatchObject({ app: 'web', plan: 'pro' });
  });

  it('serialises Dates as ISO strings and accepts a Date or ms as time', () => {
    const at = new Date('2026-01-02T03:04:05.000Z');
    const { properties } = parse(buildEvent(context, 'E', { at, time: at }, identity, NOW).json);
    expect(properties.at).toBe('2026-01-02T03:04:05.000Z');
    expect(properties.time).toBe(at.getTime());
  });

  it.each([
    ['an empty name', '', undefined, 'IDSTITCH_INVALID_EVENT_NAME'],
    ['a non-string name', 42, undefined, 'IDSTITCH_INVALID_EVENT_NAME'],
    ['a name over 255 characters', 'x'.repeat(256), undefined, 'IDSTITCH_INVALID_EVENT_NAME'],
    ['$identify', '$identify', undefined, 'IDSTITCH_IDENTITY_EVENT'],
    ['$create_alias', '$create_alias', undefined, 'IDSTITCH_IDENTITY_EVENT'],
    ['$merge', '$merge', undefined, 'IDSTITCH_IDENTITY_EVENT'],
    ['an array as properties', 'E', [1, 2], 'IDSTITCH_INVALID_PROPERTIES'],
    ['a Map as properties', 'E', new Map(), 'IDSTITCH_INVALID_PROPERTIES'],
    ['a BigInt', 'E', { n: 10n }, 'IDSTITCH_INVALID_PROPERTIES'],
    ['a function', 'E', { f: () => 1 }, 'IDSTITCH_INVALID_PROPERTIES'],
    ['a symbol', 'E', { s: Symbol('x') }, 'IDSTITCH_INVALID_PROPERTIES'],
    ['NaN', 'E', { n: Number.NaN }, 'IDSTITCH_INVALID_PROPERTIES'],
    ['an invalid Date', 'E', { d: new Date('nope') }, 'IDSTITCH_INVALID_PROPERTIES'],
    ['a typed array', 'E', { t: new Uint8Array(4) }, 'IDSTITCH_INVALID_PROPERTIES'],
    ['objects nested 4 deep', 'E', { a: { b: { c: { d: { e: 1 } } } } }, 'IDSTITCH_INVALID_PROPERTIES'],
    ['an array of 255 items', 'E', { list: Array.from({ length: 255 }, (_, i) => i) }, 'IDSTITCH_INVALID_PROPERTIES'],
    ['distinct_id', 'E', { distinct_id: 'u1' }, 'IDSTITCH_RESERVED_PROPERTY'],
    ['$device_id', 'E', { $device_id: 'd1' }, 'IDSTITCH_RESERVED_PROPERTY'],
    ['$user_id', 'E', { $user_id: 'u1' }, 'IDSTITCH_RESERVED_PROPERTY'],
    ['token', 'E', { token: 't' }, 'IDSTITCH_RESERVED_PROPERTY'],
    ['a malformed $insert_id', 'E', { $insert_id: 'has spaces in it' }, 'IDSTITCH_INVALID_PROPERTIES'],
    ['a string time', 'E', { time: 'yesterday' }, 'IDSTITCH_INVALID_PROPERTIES'],
  ])('refuses %s with a stable code', (_label, name, properties, code) => {
    expect(refusal(() => buildEvent(context, name, properties, identity, NOW)).code).toBe(code);
  });

  it('refuses a circular reference by name instead of throwing a TypeError from JSON', () => {
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    const error = refusal(() => buildEvent(context, 'E', { loop }, identity, NOW));
    expect(error.code).toBe('IDSTITCH_INVALID_PROPERTIES');
    expect(error.message).toMatch(/circular/);
  });

  it('accepts 3 levels of nesting and 254-item arrays, at the limit', () => {
    expect(() => buildEvent(context, 'E', { a: { b: { c: { d: 1 } } }, list: new Array(254).fill(0) }, identity, NOW)).not.toThrow();
  });

  it('refuses 255 properties including its own, and an event of 1 MB or more', () => {
    const many = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`p${i}`, i]));
    expect(refusal(() => buildEvent(context, 'E', many, identity, NOW)).code).toBe('IDSTITCH_INVALID_PROPERTIES');
    const big = { blob: 'x'.repeat(1_000_000) };
    expect(refusal(() => buildEvent(context, 'E', big, identity, NOW)).code).toBe('IDSTITCH_EVENT_TOO_LARGE');
  });

  it('counts multi-byte characters as UTF-8 bytes', () => {
    const built = buildEvent(context, 'É', { name: 'Zoë 🚀' }, identity, NOW);
    expect(built.bytes).toBe(Buffer.byteLength(built.json));
    expect(built.bytes).toBeGreaterThan(built.json.length);
  });

  it('refuses prototype-pollution payloads at any depth, and keeps "constructor" as an ordinary string property', () => {
    const payloads = [
      '{"__proto__": {"polluted": true}}',
      '{"__proto__": 1}',
      '{"constructor": {"prototype": {"polluted": true}}}',
      '{"nested": {"__proto__": {"polluted": true}}}',
      '{"list": [{"prototype": {"polluted": true}}]}',
    ];
    for (const payload of payloads) {
      const hostile = JSON.parse(payload) as Record<string, unknown>;
      expect(() => buildEvent(context, 'E', hostile, identity, NOW), payload).toThrow(
        expect.objectContaining({ code: 'IDSTITCH_INVALID_PROPERTIES' }),
      );
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const { properties } = parse(buildEvent(context, 'E', { constructor: 'x', prototype: 2 }, identity, NOW).json);
    expect(properties).toMatchObject({ constructor: 'x', prototype: 2 });
  });

  it('turns a getter, Proxy trap or toJSON that throws into IDSTITCH_INVALID_PROPERTIES', () => {
    const getter = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get: () => {
        throw new Error('getter exploded');
      },
    });
    const trap = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error('trap exploded');
        },
      },
    );
    const date = new Date(0);
    (date as unknown as { toJSON: () => never }).toJSON = () => {
      throw new Error('toJSON exploded');
    };
    for (const [label, properties] of [
      ['getter', getter],
      ['proxy', trap],
      ['toJSON', { when: date }],
    ] as const) {
      expect(() => buildEvent(context, 'E', properties, identity, NOW), label).toThrow(
        expect.objectContaining({ code: 'IDSTITCH_INVALID_PROPERTIES', message: expect.stringContaining('exploded') }),
      );
    }
  });

  it('lets the caller set ip, mp_lib and time once each, with super properties, and no duplicate keys', () => {
    const json = buildEvent(
      { ...context, superProperties: { ip: '10.0.0.1', app: 'web' } },
      'E',
      { ip: '203.0.113.5', mp_lib: 'custom', time: 1000 },
      identity,
      NOW,
    ).json;
    for (const key of ['"ip":', '"mp_lib":', '"time":', '"app":']) expect(json.split(key)).toHaveLength(2);
    expect(parse(json).properties).toMatchObject({ ip: '203.0.113.5', mp_lib: 'custom', time: 1000, app: 'web' });
  });

  it('skips undefined property values as JSON does', () => {
    const { properties } = parse(buildEvent(context, 'E', { plan: undefined, ok: true }, identity, NOW).json);
    expect(properties).not.toHaveProperty('plan');
    expect(properties.ok).toBe(true);
  });
});

describe('buildEvent writes the JSON JSON.stringify would', () => {
  // The event is written by hand around the caller's properties (src/event.ts, jsonString and
  // flatJson); the bytes must be exactly those of serialising the same event with JSON.stringify.
  const expected = (
    name: string,
    properties: Record<string, unknown>,
    id: { deviceId?: string; userId?: string },
    insertId: string,
  ): string =>
    JSON.stringify({
      event: name,
      properties: {
        time: NOW,
        distinct_id: '',
        ...(id.deviceId !== undefined ? { $device_id: id.deviceId } : {}),
        ...(id.userId !== undefined ? { $user_id: id.userId } : {}),
        $insert_id: insertId,
        mp_lib: 'idstitch',
        $lib_version: JSON.parse(buildEvent(context, 'x', undefined, {}, NOW).json).properties.$lib_version as string,
        ip: '0',
        ...properties,
      },
    });
  // Any UTF-16, weighted toward what JSON must escape: quotes, backslashes, controls, lone surrogates.
  const unit = fc.oneof(
    fc.constantFrom('"', '\\', '\n', '\t', '\u0000', '\u001f', '\ud83d', '\ude00', '😀', '\u2028', 'é', 'a', '/'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  );
  const text = fc.string({ unit, maxLength: 12 });
  const key = text.filter(
    (k) =>
      k !== '' &&
      !['__proto__', 'distinct_id', '$device_id', '$user_id', 'token', 'time', '$insert_id', 'mp_lib', '$lib_version', 'ip'].includes(k),
  );
  const value = fc.oneof(
    text,
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(fc.oneof(text, fc.integer()), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b'), fc.oneof(text, fc.integer())),
  );

  it('for any name, ids and flat or nested properties', () => {
    fc.assert(
      fc.property(
        text.filter((n) => n.trim() !== '' && !['$identify', '$create_alias', '$merge'].includes(n)),
        fc.option(
          text.filter((t) => t.length > 0),
          { nil: undefined },
        ),
        fc.option(
          text.filter((t) => t.trim() !== ''),
          { nil: undefined },
        ),
        fc.dictionary(key, value, { maxKeys: 6 }),
        (name, deviceId, userId, properties) => {
          const built = buildEvent(context, name, properties, { deviceId, userId }, NOW);
          const insertId = (JSON.parse(built.json) as { properties: { $insert_id: string } }).properties.$insert_id;
          expect(built.json).toBe(expected(name, properties, { deviceId, userId }, insertId));
          expect(built.bytes).toBe(Buffer.byteLength(built.json));
        },
      ),
      { seed: 20261129, numRuns: 2000 },
    );
  });
});
