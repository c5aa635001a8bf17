import type { QueuedEvent } from './event.js';

export interface QueueLimits {
  readonly flushAt: number;
  readonly flushIntervalMs: number;
  readonly maxBatchSize: number;
  readonly maxBatchBytes: number;
  readonly maxQueueSize: number;
  readonly maxQueueBytes: number;
  readonly maxConcurrentRequests: number;
}

interface Batch {
  readonly events: QueuedEvent[];
  readonly bytes: number;
  /** Position (1-based, in push order) of the batch's last event. */
  readonly lastSeq: number;
}

interface Waiter {
  readonly target: number;
  readonly resolve: () => void;
}

/**
 * A bounded FIFO of serialised events that cuts batches and hands them to `deliver`, at most
 * `maxConcurrentRequests` at a time. Batches are cut when a request slot is free and there is
 * reason to send: `flushAt` events or `maxBatchBytes` waiting, the interval elapsed, or a flush
 * asked for. Under load, events wait for a slot and later batches come out bigger.
 *
 * The bound covers every event not yet settled (waiting, in flight, or between retries), so
 * memory stays within `maxQueueSize`/`maxQueueBytes` however long the API is down.
 */
export class EventQueue {
  readonly #limits: QueueLimits;
  readonly #deliver: (events: QueuedEvent[]) => Promise<void>;
  #buffer: QueuedEvent[] = [];
  #bufferBytes = 0;
  #heldCount = 0;
  #heldBytes = 0;
  #pushed = 0;
  #cutThrough = 0;
  /** Events up to this position should go out as soon as a slot is free. */
  #flushTarget = 0;
  readonly #active = new Set<Batch>();
  #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Holds the process open while someone awaits a flush; background timers never do. */
  #keepAlive: NodeJS.Timeout | undefined;

  constructor(limits: QueueLimits, deliver: (events: QueuedEvent[]) => Promise<void>) {
    this.#limits = limits;
    this.#deliver = deliver;
  }

  /** Events held: waiting, in flight or between retries. */
  get size(): number {
    return this.#heldCount;
  }

  /** Adds an event, or returns false (nothing added) when the bound is reached. */
  push(event: QueuedEvent): boolean {
    if (this.#heldCount >= this.#limits.maxQueueSize || this.#heldBytes + event.bytes > this.#limits.maxQueueBytes) return false;
    this.#buffer.push(event);
    this.#bufferBytes += event.bytes;
    this.#heldCount++;
    this.#heldBytes += event.bytes;
    this.#pushed++;
    if (this.#buffer.length >= this.#limits.flushAt || this.#bufferBytes >= this.#limits.maxBatchBytes) {
      this.#flushTarget = this.#pushed;
      this.#pump();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#onInterval, this.#limits.flushIntervalMs);
      this.#timer.unref();
    }
    return true;
  }

  /** Sends everything pushed so far; resolves when each of those events is delivered or given up. */
  flush(): Promise<void> {
    const target = this.#pushed;
    if (this.#settledThrough(target)) return Promise.resolve();
    this.#flushTarget = Math.max(this.#flushTarget, target);
    const done = new Promise<void>((resolve) => this.#waiters.push({ target, resolve }));
    if (this.#keepAlive === undefined) this.#keepAlive = setInterval(() => {}, 1 << 30);
    this.#pump();
    return done;
  }

  /** Removes every event not yet handed to `deliver`, returning how many; used at a shutdown deadline. */
  discardWaiting(): number {
    const count = this.#buffer.length;
    this.#heldCount -= count;
    this.#heldBytes -= this.#bufferBytes;
    this.#cutThrough += count;
    this.#buffer = [];
    this.#bufferBytes = 0;
    this.#settle();
    return count;
  }

  /** Stops the interval timer; events already queued still go out on flush(). */
  stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #onInterval = (): void => {
    this.#timer = undefined;
    this.#flushTarget = Math.max(this.#flushTarget, this.#pushed);
    this.#pump();
  };

  #pump(): void {
    while (this.#active.size < this.#limits.maxConcurrentRequests && this.#buffer.length > 0 && this.#cutThrough < this.#flushTarget) {
      this.#start(this.#cut());
    }
    // Events left waiting without a reason to send still need the interval to pick them up.
    if (this.#buffer.length > 0 && this.#timer === undefined && this.#cutThrough >= this.#flushTarget) {
      this.#timer = setTimeout(this.#onInterval, this.#limits.flushIntervalMs);
      this.#timer.unref();
    }
  }

  #cut(): Batch {
    const { maxBatchSize, maxBatchBytes } = this.#limits;
    let count = 0;
    // The body is `[` + events joined by `,` + `]`: each event adds itself and one separator
    // (`[` or `,`), and the closing `]` is counted here, so `bytes` is the exact body size.
    let bytes = 1;
    // At least one event per batch: a single event is always under the API's per-event limit.
    while (count < this.#buffer.length && count < maxBatchSize) {
      const next = this.#buffer[count]!.bytes;
      if (count > 0 && bytes + next + 1 > maxBatchBytes) break;
      bytes += next + 1;
      count++;
    }
    const events = count === this.#buffer.length ? this.#buffer : this.#buffer.slice(0, count);
    this.#buffer = count === this.#buffer.length ? [] : this.#buffer.slice(count);
    let eventBytes = 0;
    for (const event of events) eventBytes += event.bytes;
    this.#bufferBytes -= eventBytes;
    this.#cutThrough += count;
    return { events, bytes: eventBytes, lastSeq: this.#cutThrough };
  }

  #start(batch: Batch): void {
    this.#active.add(batch);
    if (this.#buffer.length === 0) this.stopTimer();
    const finish = (): void => {
      this.#active.delete(batch);
      this.#heldCount -= batch.events.length;
      this.#heldBytes -= batch.bytes;
      this.#settle();
      this.#pump();
    };
    // `deliver` settles every event itself and never rejects; the catch is a last line of defence
    // so a bug there cannot leave a flush() waiting forever or reject into the host.
    this.#deliver(batch.events).then(finish, finish);
  }

  #settledThrough(target: number): boolean {
    if (this.#cutThrough < target) return false;
    for (const batch of this.#active) if (batch.lastSeq - batch.events.length < target) return false;
    return true;
  }

  #settle(): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (this.#settledThrough(waiter.target)) waiter.resolve();
      else still.push(waiter);
    }
    this.#waiters = still;
    if (still.length === 0 && this.#keepAlive !== undefined) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }
}
