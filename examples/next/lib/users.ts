// The example's users and sessions, in memory (lost on restart). Next.js loads server code in several
// bundles (pages, Route Handlers, Server Actions), each with its own copy of a module's variables:
// state that must be one per process lives on globalThis, under a registry symbol, as idstitch's
// tracker does.
import { createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;
export const MIN_PASSWORD_LENGTH = 8;

export interface User {
  /** Stable, never reused: what idstitch sends as $user_id (not the e-mail, which can change). */
  readonly id: string;
  readonly email: string;
  readonly name: string;
}

interface StoredUser extends User {
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/** Passwords are kept as scrypt hashes; there is no rate limiting, e-mail check or reset: an example. */
export class UserStore {
  readonly #byEmail = new Map<string, StoredUser>();
  readonly #byId = new Map<string, StoredUser>();

  byId(id: string): User | undefined {
    const user = this.#byId.get(id);
    return user && { id: user.id, email: user.email, name: user.name };
  }

  /** Creates a user; undefined when the e-mail is taken. */
  async create(email: string, name: string, password: string): Promise<User | undefined> {
    const key = email.toLowerCase();
    if (this.#byEmail.has(key)) return undefined;
    const salt = randomBytes(16);
    const hash = await scryptAsync(password, salt, 32);
    if (this.#byEmail.has(key)) return undefined; // taken while hashing
    const user: StoredUser = { id: `user-${randomBytes(4).toString('hex')}`, email, name, salt, hash };
    this.#byEmail.set(key, user);
    this.#byId.set(user.id, user);
    return this.byId(user.id);
  }

  /** The user when the e-mail exists and the password matches. */
  async verify(email: string, password: string): Promise<User | undefined> {
    const user = this.#byEmail.get(email.toLowerCase());
    // Hash even for an unknown e-mail, so timing does not tell which addresses have accounts.
    const hash = await scryptAsync(password, user?.salt ?? randomBytes(16), 32);
    return user && timingSafeEqual(hash, user.hash) ? this.byId(user.id) : undefined;
  }
}

interface ExampleState {
  users: UserStore;
  sessionSecret: Buffer;
}

const STATE = Symbol.for('idstitch.example.next');

function state(): ExampleState {
  const registry = globalThis as { [STATE]?: ExampleState };
  // SESSION_SECRET keeps sessions valid across restarts (the users are in memory either way).
  return (registry[STATE] ??= {
    users: new UserStore(),
    sessionSecret: process.env.SESSION_SECRET ? Buffer.from(process.env.SESSION_SECRET) : randomBytes(32),
  });
}

export function users(): UserStore {
  return state().users;
}

export const SESSION_COOKIE = 'example_session';

/** The session cookie's value for a user: the id and an HMAC of it, so a browser cannot claim another user's id. */
export function signSession(userId: string): string {
  return `${userId}.${mac(userId)}`;
}

/** The user id a session cookie's value vouches for, or undefined. */
export function verifySession(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const userId = value.slice(0, dot);
  const given = Buffer.from(value.slice(dot + 1));
  const expected = Buffer.from(mac(userId));
  return given.length === expected.length && timingSafeEqual(given, expected) ? userId : undefined;
}

function mac(userId: string): string {
  return createHmac('sha256', state().sessionSecret).update(userId).digest('base64url');
}
