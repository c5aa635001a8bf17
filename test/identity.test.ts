import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deviceCookie, isDeviceId, newDeviceId, readDeviceCookie } from '../src/identity.js';
import { normalizeOptions } from '../src/config.js';

const { cookie } = normalizeOptions({}, {});
const ID = '6f1c2a4e-9b7d-4c3e-8a2f-1d0e9c8b7a65';

describe('device id cookie', () => {
  it('issues lower-case v4 UUIDs', () => {
    const id = newDeviceId();
    expect(isDeviceId(id)).toBe(true);
    expect(newDeviceId()).not.toBe(id);
  });

  it('accepts exactly what the RFC 9562 version-4 pattern accepts', () => {
    const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    // UUID-shaped strings with one character changed (to anything), and the real thing.
    const mutated = fc
      .tuple(fc.uuid(), fc.nat(35), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }))
      .map(([id, at, c]) => id.slice(0, at) + c + id.slice(at + 1));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uuid(),
          fc.uuid({ version: 4 }),
          mutated,
          fc.uuid().map((id) => id.toUpperCase()),
          fc.string({ maxLength: 40 }),
        ),
        (value) => {
          expect(isDeviceId(value)).toBe(V4.test(value));
        },
      ),
      { seed: 20261129, numRuns: 5000 },
    );
  });

  it('finds the id among other cookies, with or without spaces', () => {
    expect(readDeviceCookie(`a=1; idstitch_device=${ID}; b=2`, cookie)).toEqual({ deviceId: ID, invalid: false });
    expect(readDeviceCookie(`idstitch_device=${ID}`, cookie).deviceId).toBe(ID);
    expect(readDeviceCookie(`a=1;idstitch_device=${ID}`, cookie).deviceId).toBe(ID);
  });

  it('does not mistake a cookie whose name ends the same way for ours', () => {
    expect(readDeviceCookie(`xidstitch_device=${ID}`, cookie)).toEqual({ deviceId: undefined, invalid: false });
  });

  it('reports absent when there is no Cookie header', () => {
    expect(readDeviceCookie(undefined, cookie)).toEqual({ deviceId: undefined, invalid: false });
    expect(readDeviceCookie('', cookie)).toEqual({ deviceId: undefined, invalid: false });
  });

  it.each([
    ['not a uuid', 'garbage'],
    ['upper case', ID.toUpperCase()],
    ['a v1 uuid', '6f1c2a4e-9b7d-1c3e-8a2f-1d0e9c8b7a65'],
    ['too long', ID + 'ff'],
    ['quoted', `"${ID}"`],
    ['url-encoded', encodeURIComponent(ID + ';x')],
    ['with CR/LF', `${ID}\r\nSet-Cookie: evil=1`],
    ['with NUL', `${ID}\u0000`],
    ['empty', ''],
    ['huge', 'a'.repeat(8000)],
  ])('treats a value that is %s as invalid, never trusting it', (_label, value) => {
    expect(readDeviceCookie(`idstitch_device=${value}`, cookie)).toEqual({ deviceId: undefined, invalid: true });
  });

  it('takes the first valid occurrence when the name appears twice', () => {
    expect(readDeviceCookie(`idstitch_device=stale; idstitch_device=${ID}`, cookie).deviceId).toBe(ID);
  });

  it('writes Secure only for HTTPS requests under the default secure: auto', () => {
    expect(deviceCookie(cookie, ID, false)).toBe(`idstitch_device=${ID}; Max-Age=34560000; Path=/; HttpOnly; SameSite=Lax`);
    expect(deviceCookie(cookie, ID, true)).toContain('; Secure');
  });
});
