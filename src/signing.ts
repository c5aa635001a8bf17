// HMAC signatures for cookie values: what lets a server trust a value it gave a browser earlier.
// Secrets rotate like express-session's: the first signs, every one verifies, so a deploy can add a
// new secret in front and retire the old one once cookies signed with it have expired.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError } from './errors.js';

/** `base64url(HMAC-SHA256)` is 43 characters. */
export const SIGNATURE_LENGTH = 43;
/** Shorter secrets are guessable offline from one signed cookie. */
export const MIN_SECRET_LENGTH = 16;

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
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new ConfigError(option, 'must be a string or a non-empty array of strings (the first signs, all verify)');
  }
  for (const [i, candidate] of secrets.entries()) {
    if (typeof candidate !== 'string' || candidate.length < MIN_SECRET_LENGTH) {
      // The secret itself never goes into the message: only where it is and how long it should be.
      throw new ConfigError(option, `${secrets.length > 1 ? `[${i}] ` : ''}must be a string of at least ${MIN_SECRET_LENGTH} characters (use a random value from a secret store)`);
    }
  }
  const keys = secrets.map((candidate) => Buffer.from(candidate, 'utf8'));
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
