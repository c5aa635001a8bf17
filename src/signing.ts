// HMAC signatures for cookie values: what lets a server trust a value it gave a browser earlier.
// Secrets rotate like express-session's: the first signs, every one verifies, so a deploy can add a
// new secret in front and retire the old one once cookies signed with it have expired.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { checkSecrets } from './cookie-config.js';

export { MIN_SECRET_LENGTH } from './cookie-config.js';

/** `base64url(HMAC-SHA256)` is 43 characters. */
export const SIGNATURE_LENGTH = 43;

export interface Signer {
  /** `value.signature`, signed with the first secret. */
  sign(value: string): string;
  /** The value when its signature verifies under any secret, else undefined. Constant time per secret. */
  unsign(signed: string): string | undefined;
  /** A keyed digest of `value` (base64url, `length` characters), for remembering a value without revealing it. */
  digest(value: string, length: number): string;
}

/** Validates `secret` (one string, or several: the first signs, all verify) and returns a signer. */
export function createSigner(secret: string | readonly string[], option = 'cookie.secret'): Signer {
  const keys = checkSecrets(secret, option).map((candidate) => Buffer.from(candidate, 'utf8'));
  const mac = (key: Buffer, value: string): Buffer => createHmac('sha256', key).update(value, 'utf8').digest();
  return {
    sign(value) {
      return `${value}.${mac(keys[0]!, value).toString('base64url')}`;
    },
    unsign(signed) {
      const dot = signed.lastIndexOf('.');
      if (dot <= 0 || signed.length - dot - 1 !== SIGNATURE_LENGTH) return undefined;
      const value = signed.slice(0, dot);
      const given = Buffer.from(signed.slice(dot + 1), 'base64url');
      // A signature that is not canonical base64url decodes to other bytes or another length.
      if (given.length !== 32 || given.toString('base64url') !== signed.slice(dot + 1)) return undefined;
      let valid = false;
      // Every secret is tried, so timing says nothing about which one matched.
      for (const key of keys) if (timingSafeEqual(mac(key, value), given)) valid = true;
      return valid ? value : undefined;
    },
    digest(value, length) {
      return mac(keys[0]!, `idstitch:digest:${value}`).toString('base64url').slice(0, length);
    },
  };
}

/** Digests kept per tracker: a signed-in user's tag is computed once, not on every request. */
const DIGEST_CACHE_SIZE = 1024;

/**
 * The keyed tag of a user id that the device cookie remembers (see `DeviceCookieValue.link`). Keyed
 * by the first cookie secret when there is one; otherwise by `fallbackKey` (derived from the token),
 * which makes the tag the same on every instance but guessable for enumerable ids: set
 * `cookie.secret` to make it opaque.
 */
export function linkTagger(signer: Signer | undefined, fallbackKey: string, length: number): (userId: string) => string {
  const digest = signer
    ? (id: string) => signer.digest(id, length)
    : (id: string) => createHmac('sha256', fallbackKey).update(`idstitch:link:${id}`, 'utf8').digest('base64url').slice(0, length);
  const cache = new Map<string, string>();
  return (userId) => {
    let tag = cache.get(userId);
    if (tag === undefined) {
      if (cache.size >= DIGEST_CACHE_SIZE) cache.clear();
      tag = digest(userId);
      cache.set(userId, tag);
    }
    return tag;
  };
}
