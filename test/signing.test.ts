import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { createSigner, SIGNATURE_LENGTH } from '../src/signing.js';

const SECRET = 'correct horse battery staple';
const OLD = 'an older secret, being retired';
const ID = '6f1c2a4e-9b7d-4c3e-8a2f-1d0e9c8b7a65';

describe('createSigner', () => {
  it('signs as value.signature with a 43-character base64url HMAC, and verifies it back', () => {
    const signer = createSigner(SECRET);
    const signed = signer.sign(ID);
    expect(signed).toMatch(new RegExp(`^${ID}\\.[A-Za-z0-9_-]{${SIGNATURE_LENGTH}}$`));
    expect(signer.unsign(signed)).toBe(ID);
  });

  it('refuses a tampered value, a tampered or truncated signature, and an unsigned value', () => {
    const signer = createSigner(SECRET);
    const signed = signer.sign(ID);
    const signature = signed.slice(ID.length + 1);
    const flipped = signature[0] === 'A' ? 'B' + signature.slice(1) : 'A' + signature.slice(1);
    expect(signer.unsign(ID.replace('6f1c', '6f1d') + '.' + signature)).toBeUndefined();
    expect(signer.unsign(`${ID}.${flipped}`)).toBeUndefined();
    expect(signer.unsign(`${ID}.${signature.slice(1)}`)).toBeUndefined();
    expect(signer.unsign(`${ID}.${signature}=`)).toBeUndefined();
    expect(signer.unsign(ID)).toBeUndefined();
    expect(signer.unsign(`.${signature}`)).toBeUndefined();
    expect(signer.unsign('')).toBeUndefined();
  });

  it('rotates: the first secret signs, every secret verifies, a removed one no longer does', () => {
    const before = createSigner(OLD).sign(ID);
    const rotating = createSigner([SECRET, OLD]);
    expect(rotating.unsign(before)).toBe(ID);
    expect(rotating.sign(ID)).toBe(createSigner(SECRET).sign(ID));
    expect(createSigner(SECRET).unsign(before)).toBeUndefined();
  });

  it('gives the same signature and digest on every instance with the same secret (no per-process keys)', () => {
    expect(createSigner(SECRET).sign(ID)).toBe(createSigner(SECRET).sign(ID));
    expect(createSigner(SECRET).digest('user-42', 12)).toBe(createSigner([SECRET, OLD]).digest('user-42', 12));
    expect(createSigner(SECRET).digest('user-42', 12)).not.toBe(createSigner(OLD).digest('user-42', 12));
    expect(createSigner(SECRET).digest('user-42', 12)).not.toBe(createSigner(SECRET).digest('user-43', 12));
  });

  it('refuses short, empty or non-string secrets at construction, without echoing them', () => {
    for (const bad of ['short', '', [], [SECRET, 'short'], [42], undefined]) {
      const attempt = (): unknown => createSigner(bad as unknown as string);
      expect(attempt).toThrow(ConfigError);
      try {
        attempt();
      } catch (error) {
        expect((error as ConfigError).code).toBe('IDSTITCH_INVALID_OPTION');
        if (typeof bad === 'string' && bad !== '') expect((error as Error).message).not.toContain(bad);
      }
    }
  });
});
