import { describe, expect, it } from 'vitest';
import { UserIdError } from '../src/errors.js';
import { normalizeUserId } from '../src/user.js';

describe('normalizeUserId', () => {
  it('keeps string ids byte for byte and turns numbers and bigints into strings', () => {
    expect(normalizeUserId('User-42')).toBe('User-42');
    expect(normalizeUserId(' padded ')).toBe(' padded ');
    expect(normalizeUserId(42)).toBe('42');
    expect(normalizeUserId(9007199254740993n)).toBe('9007199254740993');
    expect(normalizeUserId('ユーザー')).toBe('ユーザー');
  });

  it('treats undefined and null as anonymous without an error', () => {
    expect(normalizeUserId(undefined)).toBeUndefined();
    expect(normalizeUserId(null)).toBeUndefined();
  });

  it.each([
    'undefined',
    'NULL',
    'Anonymous',
    '0',
    '-1',
    'none',
    'N/A',
    'false',
    '[]',
    '{}',
    '<nil>',
    '00000000-0000-0000-0000-000000000000',
    'lmy47d',
  ])('refuses the placeholder %j, case-insensitively', (value) => {
    const result = normalizeUserId(value);
    expect(result).toBeInstanceOf(UserIdError);
    expect((result as UserIdError).code).toBe('IDSTITCH_INVALID_USER_ID');
  });

  it.each([
    ['an empty string', ''],
    ['whitespace', '   '],
    ['256 characters', 'u'.repeat(256)],
    ['a $device: id', '$device:abc'],
    ['an object', { id: 1 }],
    ['an array', ['u1']],
    ['a boolean', true],
    ['NaN', Number.NaN],
    ['zero', 0],
    ['a function', () => 'u1'],
  ])('refuses %s', (_label, value) => {
    expect(normalizeUserId(value)).toBeInstanceOf(UserIdError);
  });

  it('accepts 255 characters, the limit', () => {
    expect(normalizeUserId('u'.repeat(255))).toBe('u'.repeat(255));
  });
});
