import { Batch } from './batch.js';

export interface QueueLimits {
  readonly flushAt: number;
  readonly flushIntervalMs: number;
  readonly maxBatchSize: number;
  readonly maxBatchBytes: number;
  readonly maxQueueSize: number;
  readonly maxQueueBytes: number;
  readonly maxConcurrentRequests: number;
}

interface Waiter {
  readonly target: number;
  readonly resolve: () => void;
}

/**
 * First size of a batch's byte buffer; it doubles as events arrive, up to `maxBatchBytes`. Later
 * batches start at the size the previous one reached (plus an eighth), so a steady stream fills
 * one buffer per batch instead of growing and copying it six times.
 */
const INITIAL_BATCH_CAPACITY = 16 * 1024; // bytes

/**
 * A bounded FIFO of serialised events that forms batches and hands them to `deliver`, at most
 * `maxConcurrentRequests` at a time. Each event's UTF-8 bytes are appended to the open batch's
 * buffer as it is pushed, so a waiting event costs no JS object (no GC pressure while it waits) and
 * a batch's request body is ready when it goes out. A batch goes out when a request slot is free
 * and there is reason to send: `flushAt` events or a full batch waiting, the interval elapsed, or
 * a flush asked for.
 *
 * The bound covers every event not yet settled (waiting, in flight, or between retries), so
 * memory stays within `maxQueueSize`/`maxQueueBytes` however long the API is down.
 */
export class EventQueue {
  readonly #limits: QueueLimits;
  readonly #deliver: (batch: Batch) => Promise<void>;
  /** Batches full or sealed by a flush, waiting for a request slot. */
  #sealed: Batch[] = [];
  #open: Buffer | undefined;
  #openUsed = 0;
  #openEnds: number[] = [];
  #heldCount = 0;
  /** The size the next batch's buffer starts at (see INITIAL_BATCH_CAPACITY). */
  #nextCapacity = INITIAL_BATCH_CAPACITY;
  #heldBytes = 0;
  #pushed = 0;
  /** Events sealed into batches so far (in push order). */
  #sealedThrough = 0;
  /** Events handed to `deliver` (or discarded) so far. */
  #startedThrough = 0;
  /** Events up to this position should go out as soon as a slot is free. */
  #flushTarget = 0;
  readonly #active = new Set<Batch>();
  #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Holds the process open while someone awaits a flush; background timers never do. */
  #keepAlive: NodeJS.Timeout | undefined;

  constructor(limits: QueueLimits, deliver: (batch: Batch) => Promise<void>) {
    this.#limits = limits;
    this.#deliver = deliver;
  }

  /** Events held: waiting, in flight or between retries. */
  get size(): number {
    return this.#heldCount;
  }

  /** Adds an event's JSON (`bytes` long in UTF-8), or returns false (nothing added) when the bound is reached. */
  push(json: string, bytes: number): boolean {
    const limits = this.#limits;
    if (this.#heldCount >= limits.maxQueueSize || this.#heldBytes + bytes > limits.maxQueueBytes) return false;
    const count = this.#openEnds.length;
    // Brackets and commas count toward the API's per-request byte limit too.
    if (count > 0 && (count >= limits.maxBatchSize || this.#openUsed + 1 + bytes + 2 > limits.maxBatchBytes)) {
      this.#flushTarget = Math.max(this.#flushTarget, this.#pushed); // a full batch is reason to send
      this.#seal();
    }
    this.#append(json, bytes);
    this.#heldCount++;
    this.#heldBytes += bytes;
    this.#pushed++;
    if (this.#openEnds.length >= limits.flushAt) {
      this.#flushTarget = this.#pushed;
      this.#pump();
    } else if (this.#sealed.length > 0) {
      this.#pump();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#onInterval, limits.flushIntervalMs);
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
    this.#seal();
    let count = 0;
    for (const batch of this.#sealed) {
      count += batch.count;
      this.#heldBytes -= batch.eventBytes;
    }
    this.#sealed = [];
    this.#heldCount -= count;
    this.#startedThrough += count;
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

  #append(json: string, bytes: number): void {
    const separator = this.#openEnds.length > 0 ? 1 : 0;
    const needed = this.#openUsed + separator + bytes;
    let buffer = this.#open;
    if (buffer === undefined || needed > buffer.length) {
      let capacity = buffer ? buffer.length * 2 : this.#nextCapacity;
      while (capacity < needed) capacity *= 2;
      const grown = Buffer.allocUnsafe(Math.min(capacity, Math.max(needed, this.#limits.maxBatchBytes)));
      if (buffer) buffer.copy(grown, 0, 0, this.#openUsed);
      this.#open = buffer = grown;
    }
    if (separator) buffer[this.#openUsed++] = 0x2c; // ,
    this.#openUsed += buffer.write(json, this.#openUsed, 'utf8');
    this.#openEnds.push(this.#openUsed);
  }

  /** Closes the open batch (if any) and puts it in line to be sent. */
  #seal(): void {
    const count = this.#openEnds.length;
    if (count === 0 || this.#open === undefined) return;
    const used = this.#openUsed;
    this.#nextCapacity = Math.max(INITIAL_BATCH_CAPACITY, Math.min(this.#limits.maxBatchBytes, Math.ceil(used * 1.125)));
    // Keep only what the batch uses: a half-empty buffer would double the memory the bound allows.
    const body = used * 1.5 < this.#open.length ? Buffer.from(this.#open.subarray(0, used)) : this.#open.subarray(0, used);
    this.#sealedThrough += count;
    this.#sealed.push(new Batch(body, this.#openEnds, this.#sealedThrough));
    this.#open = undefined;
    this.#openUsed = 0;
    this.#openEnds = [];
  }

  #pump(): void {
    while (this.#active.size < this.#limits.maxConcurrentRequests && this.#startedThrough < this.#flushTarget) {
      if (this.#sealed.length === 0) this.#seal();
      const batch = this.#sealed.shift();
      if (batch === undefined) break;
      this.#start(batch);
    }
    // Events left waiting without a reason to send still need the interval to pick them up.
    if ((this.#sealed.length > 0 || this.#openEnds.length > 0) && this.#timer === undefined && this.#startedThrough >= this.#flushTarget) {
      this.#timer = setTimeout(this.#onInterval, this.#limits.flushIntervalMs);
      this.#timer.unref();
    }
  }

  #start(batch: Batch): void {
    this.#active.add(batch);
    this.#startedThrough += batch.count;
    if (this.#sealed.length === 0 && this.#openEnds.length === 0) this.stopTimer();
    const finish = (): void => {
      this.#active.delete(batch);
      this.#heldCount -= batch.count;
      this.#heldBytes -= batch.eventBytes;
      this.#settle();
      this.#pump();
    };
    // `deliver` settles every event itself and never rejects; the catch is a last line of defence
    // so a bug there cannot leave a flush() waiting forever or reject into the host.
    this.#deliver(batch).then(finish, finish);
  }

  #settledThrough(target: number): boolean {
    if (this.#startedThrough < target) return false;
    for (const batch of this.#active) if (batch.lastSeq - batch.count < target) return false;
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
