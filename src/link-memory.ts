// Links the device cookie could not record. identifyUser links a device to a user in Mixpanel the
// moment its event is sent; the cookie only remembers it, for the user-switch guard. Where that
// cookie cannot be written (headers already sent, a Next.js Server Component), the link is kept
// here, in this process, until a later request of the same browser can write it.

/** How many unrecorded links a tracker keeps; the oldest is forgotten first. */
export const MAX_REMEMBERED_LINKS = 10_000;

export class LinkMemory {
  readonly #links = new Map<string, string>();
  readonly #max: number;

  constructor(max = MAX_REMEMBERED_LINKS) {
    this.#max = max;
  }

  /** Keeps `tag` (the linked user's) for `deviceId`; false when that meant forgetting an older one. */
  remember(deviceId: string, tag: string): boolean {
    this.#links.delete(deviceId); // re-inserted: now the newest
    this.#links.set(deviceId, tag);
    if (this.#links.size <= this.#max) return true;
    const oldest = this.#links.keys().next().value as string;
    this.#links.delete(oldest);
    return false;
  }

  /** The tag kept for `deviceId`, if any. */
  recall(deviceId: string): string | undefined {
    return this.#links.size === 0 ? undefined : this.#links.get(deviceId);
  }

  /** The cookie now records the link: nothing to keep. */
  forget(deviceId: string): void {
    if (this.#links.size !== 0) this.#links.delete(deviceId);
  }

  get size(): number {
    return this.#links.size;
  }
}
