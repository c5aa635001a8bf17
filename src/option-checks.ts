// Option checks shared by the tracker's options and the cookie options. Pure: no Node.js API, so
// the Edge-safe cookie config (and through it idstitch/next/proxy) can use them.
import { ConfigError } from './errors.js';

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return (value as object).constructor?.name ? `a ${(value as object).constructor.name}` : 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  return `${typeof value} ${String(value)}`;
}

/**
 * Throws a `ConfigError` for the first key of `object` not in `known`, suggesting the nearest name
 * (or what `instead` maps a renamed option to).
 */
export function rejectUnknown(
  object: object,
  known: ReadonlyArray<string>,
  prefix: string,
  instead: Readonly<Record<string, string>> = {},
): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue;
    const renamed = Object.hasOwn(instead, key) ? instead[key] : undefined;
    const near = renamed ?? closest(key, known);
    throw new ConfigError(
      prefix + key,
      `is not an option${near ? `; did you mean \`${prefix}${near}\`?` : ''} (known: ${known.join(', ')})`,
    );
  }
}

function closest(word: string, candidates: ReadonlyArray<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

export function optionalString<T extends object>(object: T, key: keyof T & string, prefix = ''): string | undefined {
  const value = object[key] as unknown;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(prefix + key, `must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

export function oneOf<T extends object, V extends string>(
  object: T,
  key: keyof T & string,
  values: readonly V[],
  prefix = '',
): V | undefined {
  const value = object[key] as unknown;
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    const match = values.find((v) => v.toLowerCase() === value.toLowerCase());
    if (match) return match;
  }
  throw new ConfigError(prefix + key, `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(value)}`);
}
