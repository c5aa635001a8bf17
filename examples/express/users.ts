// In-memory users for the example: lost when the process stops. Passwords are stored as scrypt
// hashes and checked, so the example does not teach storing them in clear; there is no rate
// limiting, e-mail verification or password reset.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;
const KEY_BYTES = 32;
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

export class UserStore {
  readonly #byEmail = new Map<string, StoredUser>();
  readonly #byId = new Map<string, StoredUser>();

  get size(): number {
    return this.#byId.size;
  }

  byId(id: string): User | undefined {
    const user = this.#byId.get(id);
    return user && publicUser(user);
  }

  /** Creates a user; undefined when the e-mail is taken. */
  async create(email: string, name: string, password: string): Promise<User | undefined> {
    const key = email.toLowerCase();
    if (this.#byEmail.has(key)) return undefined;
    const salt = randomBytes(16);
    const hash = await scryptAsync(password, salt, KEY_BYTES);
    if (this.#byEmail.has(key)) return undefined; // taken while hashing
    const user: StoredUser = { id: `user-${randomBytes(4).toString('hex')}`, email, name, salt, hash };
    this.#byEmail.set(key, user);
    this.#byId.set(user.id, user);
    return publicUser(user);
  }

  /** The user when the e-mail exists and the password matches. */
  async verify(email: string, password: string): Promise<User | undefined> {
    const user = this.#byEmail.get(email.toLowerCase());
    // Hash even for an unknown e-mail, so timing does not tell which addresses have accounts.
    const hash = await scryptAsync(password, user?.salt ?? randomBytes(16), KEY_BYTES);
    return user && timingSafeEqual(hash, user.hash) ? publicUser(user) : undefined;
  }
}

function publicUser(user: StoredUser): User {
  return { id: user.id, email: user.email, name: user.name };
}

/** What is wrong with a sign-up form, in words for the page, or undefined when nothing is. */
export function signupProblem(name: string, email: string, password: string): string | undefined {
  if (!name.trim() || name.length > 80) return 'Please give a name of at most 80 characters.';
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 200) return 'Please give a valid e-mail address.';
  if (password.length < MIN_PASSWORD_LENGTH || password.length > 200) return `The password needs ${MIN_PASSWORD_LENGTH} to 200 characters.`;
  return undefined;
}
