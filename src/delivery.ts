import { DeliveryError, IdstitchError } from './errors.js';
import type { QueuedEvent } from './event.js';
import type { RetryPolicy } from './options.js';
import type { Reporter } from './report.js';
import { classify, retryDelay, type FailedRecord } from './retry.js';
import type { DropReason, TrackerStats } from './stats.js';
import type { Transport } from './transport.js';

/** Once shutdown has begun, waits between retries are cut to this (ms): the deadline matters more than politeness. */
const SHUTDOWN_RETRY_DELAY_MS = 1000;

/**
 * Takes one batch to a final state: delivered, or dropped with a counted reason. Retries with
 * backoff resend the same bytes (same `$insert_id` and `time`, so Mixpanel de-duplicates a
 * retry whose first attempt did land); a 413 splits the batch in halves; a strict 400 drops only
 * the records the API named. Never throws or rejects.
 */
export class Delivery {
  readonly #transport: Transport;
  readonly #endpoint: 'import' | 'track';
  readonly #policy: RetryPolicy;
  readonly #stats: TrackerStats;
  readonly #reporter: Reporter;
  readonly #abort = new AbortController();
  #hurry = false;
  readonly #sleepers = new Set<() => void>();
  #unauthorizedReported = false;

  constructor(transport: Transport, endpoint: 'import' | 'track', policy: RetryPolicy, stats: TrackerStats, reporter: Reporter) {
    this.#transport = transport;
    this.#endpoint = endpoint;
    this.#policy = policy;
    this.#stats = stats;
    this.#reporter = reporter;
  }

  /** Shutdown has begun: shorten waits between retries, and wake batches asleep now. */
  hurry(): void {
    this.#hurry = true;
    for (const wake of this.#sleepers) wake();
  }

  /** The shutdown deadline passed: abort requests in flight; their events count as `shutdown_timeout`. */
  abort(): void {
    this.#abort.abort();
    for (const wake of this.#sleepers) wake();
  }

  readonly deliver = async (events: QueuedEvent[]): Promise<void> => {
    try {
      await this.#deliver(events);
    } catch (error) {
      this.#drop(events.length, 'retries_exhausted');
      this.#reporter.report(new IdstitchError('IDSTITCH_INTERNAL', `idstitch delivery failed unexpectedly: ${(error as Error)?.message}`, { cause: error }));
    }
  };

  async #deliver(events: QueuedEvent[]): Promise<void> {
    const signal = this.#abort.signal;
    const payload = await this.#transport.encode(events.map((event) => event.json));
    for (let retry = 0; ; retry++) {
      if (signal.aborted) return this.#drop(events.length, 'shutdown_timeout');
      this.#stats.requests++;
      if (retry > 0) this.#stats.retries++;
      this.#stats.bytesSent += payload.body.length;
      const attempt = await this.#transport.send(payload, signal);
      if (signal.aborted) return this.#drop(events.length, 'shutdown_timeout');
      const verdict = classify(attempt, this.#endpoint);
      switch (verdict.action) {
        case 'delivered':
          this.#stats.delivered += events.length;
          return;
        case 'partial':
          return this.#partial(events, verdict.failed, verdict.imported);
        case 'split':
          return this.#split(events);
        case 'drop':
          this.#drop(events.length, verdict.reason);
          if (verdict.reason === 'unauthorized') {
            if (this.#unauthorizedReported) return;
            this.#unauthorizedReported = true;
          }
          this.#reporter.report(
            new DeliveryError(verdict.reason === 'unauthorized' ? 'IDSTITCH_UNAUTHORIZED' : 'IDSTITCH_RECORDS_REJECTED', `${events.length} events dropped: ${verdict.message}`, {
              reason: verdict.reason,
              count: events.length,
              status: verdict.status,
            }),
          );
          return;
        case 'retry': {
          if (retry >= this.#policy.maxRetries) {
            this.#drop(events.length, 'retries_exhausted');
            this.#reporter.report(
              new DeliveryError('IDSTITCH_DELIVERY_FAILED', `${events.length} events dropped after ${retry + 1} attempts; last: ${verdict.reason}`, {
                reason: 'retries_exhausted',
                count: events.length,
                status: attempt.kind === 'response' ? attempt.status : undefined,
              }),
            );
            return;
          }
          let delay = retryDelay(retry + 1, this.#policy, verdict.retryAfterMs);
          if (this.#hurry) delay = Math.min(delay, SHUTDOWN_RETRY_DELAY_MS);
          await this.#sleep(delay);
        }
      }
    }
  }

  async #split(events: QueuedEvent[]): Promise<void> {
    if (events.length === 1) {
      this.#drop(1, 'too_large');
      this.#reporter.report(
        new DeliveryError('IDSTITCH_RECORDS_REJECTED', 'an event was refused as too large (413) even on its own', { reason: 'too_large', count: 1, status: 413 }),
      );
      return;
    }
    this.#stats.splits++;
    const half = Math.ceil(events.length / 2);
    await this.#deliver(events.slice(0, half));
    await this.#deliver(events.slice(half));
  }

  /** Strict /import ingested the rest of the batch; only the named records failed (contract §3.2). */
  #partial(events: QueuedEvent[], failed: readonly FailedRecord[], imported: number | undefined): void {
    const indices = new Set<number>();
    for (const record of failed) if (record.index !== undefined && record.index < events.length) indices.add(record.index);
    const named = indices.size === failed.length;
    const rejected = named ? indices.size : events.length - Math.min(events.length, imported ?? 0);
    this.#stats.delivered += events.length - rejected;
    this.#drop(rejected, 'rejected');
    this.#reporter.report(
      new DeliveryError('IDSTITCH_RECORDS_REJECTED', `${rejected} of ${events.length} events were rejected by the API: ${failed[0]?.message ?? 'no reason given'}`, {
        reason: 'rejected',
        count: rejected,
        status: 400,
        records: failed.map((record) => ({
          index: record.index,
          insertId: record.insertId ?? (record.index !== undefined ? events[record.index]?.insertId : undefined),
          message: record.message,
        })),
      }),
    );
  }

  #drop(count: number, reason: DropReason): void {
    this.#stats.dropped[reason] += count;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      // Unref'd: a retry waiting in the background must not keep an idle process alive.
      // flush() and shutdown() hold the process open themselves while someone awaits them.
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.#sleepers.add(wake);
    });
  }
}
