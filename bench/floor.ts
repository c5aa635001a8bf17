// The "floor": the least a hand-written server-side integration does per request, with idstitch's
// default cookie attributes. Benchmarks compare idstitch against it in the same run. It reads and
// issues the device cookie and builds and serialises the event, but never queues or sends it.
import { randomBytes, randomUUID } from 'node:crypto';
import { LIBRARY_VERSION } from 'idstitch';

export const COOKIE_NAME = 'idstitch_device';
const COOKIE_PREFIX = COOKIE_NAME + '=';
/** idstitch's default attributes on plain HTTP: 400 days, Path=/, HttpOnly, SameSite=Lax. */
export const COOKIE_ATTRIBUTES = '; Max-Age=34560000; Path=/; HttpOnly; SameSite=Lax';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Finds `idstitch_device=` at the start of the Cookie header or after `; `, and validates the value. */
export function readDeviceId(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  let at = header.startsWith(COOKIE_PREFIX) ? 0 : header.indexOf('; ' + COOKIE_PREFIX);
  if (at === -1) return undefined;
  if (at > 0) at += 2;
  const from = at + COOKIE_PREFIX.length;
  const end = header.indexOf(';', from);
  const value = end === -1 ? header.slice(from) : header.slice(from, end);
  return value.length === 36 && UUID_V4.test(value) ? value : undefined;
}

/** The response side the floor needs; node:http's ServerResponse fits. */
export interface HeaderSink {
  setHeader(name: string, value: string): unknown;
}

/** Returns the request's device id, issuing a new one (Set-Cookie + Cache-Control: private) when missing or invalid. */
export function deviceIdFor(cookieHeader: string | undefined, res: HeaderSink): string {
  const existing = readDeviceId(cookieHeader);
  if (existing !== undefined) return existing;
  const deviceId = randomUUID();
  res.setHeader('set-cookie', COOKIE_PREFIX + deviceId + COOKIE_ATTRIBUTES);
  res.setHeader('cache-control', 'private');
  return deviceId;
}

/** `$insert_id`s as idstitch makes them (a per-process random prefix and a counter), so the floor builds the same events. */
const INSERT_ID_PREFIX = randomBytes(10).toString('hex') + '-';
let insertIds = 0;
export function floorInsertId(): string {
  return INSERT_ID_PREFIX + (insertIds++).toString(36).padStart(11, '0');
}

/** The event idstitch would send, as JSON: same fields, built without checks. */
export function eventJson(name: string, deviceId: string, userId: string | undefined, properties: Record<string, unknown>): string {
  const out: Record<string, unknown> = { time: Date.now(), distinct_id: '', $device_id: deviceId };
  if (userId !== undefined) out.$user_id = userId;
  out.$insert_id = floorInsertId();
  out.mp_lib = 'idstitch';
  out.$lib_version = LIBRARY_VERSION;
  out.ip = '0';
  for (const key in properties) out[key] = properties[key];
  return JSON.stringify({ event: name, properties: out });
}
