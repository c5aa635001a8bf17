// Reading what a response asked the browser to store, for the adapter tests.
import type request from 'supertest';
import { expect } from 'vitest';

/** Every Set-Cookie line of a response. */
export function setCookies(response: request.Response): string[] {
  const value = response.headers['set-cookie'] as string | string[] | undefined;
  return value === undefined ? [] : ([] as string[]).concat(value);
}

/** The device id in a response's Set-Cookie for idstitch's cookie (fails on two lines), or undefined. */
export function deviceCookieOf(response: request.Response): string | undefined {
  const ours = setCookies(response).filter((line) => line.startsWith('idstitch_device='));
  expect(ours.length).toBeLessThanOrEqual(1);
  // The value is the id, then `.` and the signed-in user's tag once there is one.
  return ours[0]?.split(';')[0]!.slice('idstitch_device='.length).split('.')[0];
}
