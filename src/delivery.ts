import { DeliveryError, IdstitchError } from './errors.js';
import type { Batch } from './batch.js';
import type { RetryPolicy } from './config.js';
import type { Reporter } from './report.js';
import { classify, retryDelay, type FailedRecord, type ResponseFormat } from './retry.js';
import type { DropReason, PipelineCounters } from './stats.js';
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
  readonly #format: ResponseFormat;
  readonly #policy: RetryPolicy;
  readonly #stats: PipelineCounters;
  readonly #reporter: Reporter;
  readonly #abort = new AbortController();
  #hurry = false;
  readonly #sleepers = new Set<() => void>();
  #unauthorizedReported = false;
  #unacknowledgedReported = false;

  constructor(transport: Transport, format: ResponseFormat, policy: RetryPolicy, stats: PipelineCounters, reporter: Reporter) {
    this.#transport = transport;
    this.#format = format;
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

  readonly deliver = async (batch: Batch): Promise<void> => {
    try {
      await this.#deliver(batch);
    } catch (error) {
      this.#drop(batch.count, 'retries_exhausted');
      this.#reporter.report(
        new IdstitchError('IDSTITCH_INTERNAL', `idstitch delivery failed unexpectedly: ${(error as Error)?.message}`, { cause: error }),
      );
    }
  };

  async #deliver(batch: Batch): Promise<void> {
    const signal = this.#abort.signal;
    const payload = await this.#transport.encode(batch.body);
    const count = batch.count;
    for (let retry = 0; ; retry++) {
      if (signal.aborted) return this.#drop(count, 'shutdown_timeout');
      this.#stats.requests++;
      if (retry > 0) this.#stats.retries++;
      this.#stats.bytesSent += payload.body.length;
      const attempt = await this.#transport.send(payload, signal);
      if (signal.aborted) return this.#drop(count, 'shutdown_timeout');
      const verdict = classify(attempt, this.#format);
      switch (verdict.action) {
        case 'delivered':
          this.#stats.delivered += count;
          return;
        case 'partial':
          return this.#partial(batch, verdict.failed, verdict.imported);
        case 'split':
          return this.#split(batch);
        case 'drop':
          this.#drop(count, verdict.reason);
          if (verdict.reason === 'unauthorized') {
            if (this.#unauthorizedReported) return;
            this.#unauthorizedReported = true;
          }
          this.#reporter.report(
            new DeliveryError(
              verdict.reason === 'unauthorized' ? 'IDSTITCH_UNAUTHORIZED' : 'IDSTITCH_RECORDS_REJECTED',
              `${count} events dropped: ${verdict.message}`,
              {
                reason: verdict.reason,
                count: count,
                status: verdict.status,
              },
            ),
          );
          return;
        case 'retry': {
          if (verdict.unacknowledged === true && !this.#unacknowledgedReported) {
            // Said at once, not after the retries: it is usually an apiHost that is not Mixpanel's API.
            this.#unacknowledgedReported = true;
            this.#reporter.report(
              new DeliveryError(
                'IDSTITCH_UNACKNOWLEDGED',
                `${verdict.reason}: is apiHost the ingestion API? The batch is retried, and dropped as retries_exhausted if no acknowledgement comes`,
                {
                  reason: 'unacknowledged',
                  count,
                  status: attempt.kind === 'response' ? attempt.status : undefined,
                },
              ),
            );
          }
          if (retry >= this.#policy.maxRetries) {
            this.#drop(count, 'retries_exhausted');
            this.#reporter.report(
              new DeliveryError(
                'IDSTITCH_DELIVERY_FAILED',
                `${count} events dropped after ${retry + 1} attempts; last: ${verdict.reason}`,
                {
                  reason: 'retries_exhausted',
                  count: count,
                  status: attempt.kind === 'response' ? attempt.status : undefined,
                },
              ),
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

  async #split(batch: Batch): Promise<void> {
    if (batch.count === 1) {
      this.#drop(1, 'too_large');
      this.#reporter.report(
        new DeliveryError('IDSTITCH_RECORDS_REJECTED', 'an event was refused as too large (413) even on its own', {
          reason: 'too_large',
          count: 1,
          status: 413,
        }),
      );
      return;
    }
    this.#stats.splits++;
    const half = Math.ceil(batch.count / 2);
    await this.#deliver(batch.slice(0, half));
    await this.#deliver(batch.slice(half, batch.count));
  }

  /** Strict /import ingested the rest of the batch; only the named records failed (contract §3.2). */
  #partial(batch: Batch, failed: readonly FailedRecord[], imported: number | undefined): void {
    const indices = new Set<number>();
    for (const record of failed) if (record.index !== undefined && record.index < batch.count) indices.add(record.index);
    const named = indices.size === failed.length;
    const rejected = named ? indices.size : batch.count - Math.min(batch.count, imported ?? 0);
    this.#stats.delivered += batch.count - rejected;
    this.#drop(rejected, 'rejected');
    this.#reporter.report(
      new DeliveryError(
        'IDSTITCH_RECORDS_REJECTED',
        `${rejected} of ${batch.count} events were rejected by the API: ${failed[0]?.message ?? 'no reason given'}`,
        {
          reason: 'rejected',
          count: rejected,
          status: 400,
          records: failed.map((record) => ({
            index: record.index,
            insertId: record.insertId ?? (record.index !== undefined ? batch.insertId(record.index) : undefined),
            message: record.message,
          })),
        },
      ),
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
