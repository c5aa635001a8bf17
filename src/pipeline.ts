// One way out to the API: a bounded queue that forms batches, delivery that takes each batch to a
// final state (retries, splits, partial rejections, acknowledgement checks), the HTTP transport
// under it, and the counters that say what happened. The tracker runs two: events to `/import` (or
// `/track`), and profile updates to `/engage`.
import type { Batch } from './batch.js';
import { Delivery } from './delivery.js';
import type { RetryPolicy } from './config.js';
import { EventQueue, type QueueLimits } from './queue.js';
import type { Reporter } from './report.js';
import type { ResponseFormat } from './retry.js';
import { createPipelineCounters, type PipelineCounters } from './stats.js';
import { Transport } from './transport.js';

export interface PipelineOptions {
  /** Full URL of the endpoint, query included. */
  readonly url: URL;
  readonly authorization: string | undefined;
  /** gzip level of request bodies, or false (`/engage` takes no gzip). */
  readonly gzipLevel: number | false;
  readonly format: ResponseFormat;
  readonly limits: QueueLimits;
  readonly retry: RetryPolicy;
  /** Deadline of one attempt, in ms. */
  readonly timeoutMs: number;
}

export class Pipeline {
  readonly counters: PipelineCounters = createPipelineCounters();
  readonly #queue: EventQueue;
  readonly #delivery: Delivery;
  readonly #transport: Transport;

  constructor(options: PipelineOptions, reporter: Reporter) {
    this.#transport = new Transport({
      url: options.url,
      authorization: options.authorization,
      gzipLevel: options.gzipLevel,
      timeoutMs: options.timeoutMs,
      connections: options.limits.maxConcurrentRequests,
    });
    this.#delivery = new Delivery(this.#transport, options.format, options.retry, this.counters, reporter);
    this.#queue = new EventQueue(options.limits, (batch: Batch) => this.#delivery.deliver(batch));
  }

  /** Queues one record's JSON; false (nothing queued) when the queue is at its bound. */
  push(json: string, bytes: number): boolean {
    if (!this.#queue.push(json, bytes)) return false;
    this.counters.tracked++;
    return true;
  }

  /** Records held now: waiting, in flight or between retries. */
  get size(): number {
    return this.#queue.size;
  }

  /** Resolves (never rejects) when everything pushed so far is delivered or given up. */
  flush(): Promise<void> {
    return this.#queue.flush();
  }

  /** Shutdown has begun: no more interval flushes, and waits between retries are cut short. */
  hurry(): void {
    this.#queue.stopTimer();
    this.#delivery.hurry();
  }

  /** The shutdown deadline passed: drops what waits (counted as `shutdown_timeout`) and aborts what is in flight. */
  async abort(): Promise<number> {
    const waiting = this.#queue.discardWaiting();
    this.counters.dropped.shutdown_timeout += waiting;
    this.#delivery.abort();
    await this.#transport.close(true);
    await this.#queue.flush();
    return waiting;
  }

  /** Closes idle connections once everything is delivered. */
  close(): Promise<void> {
    return this.#transport.close();
  }
}
