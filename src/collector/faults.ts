import { describe, isPlainObject } from '../options.js';
import type { Endpoint } from './options.js';

/**
 * One scripted failure for the ingestion endpoints, consumed by the next matching requests:
 * - `status`: answer with this HTTP status in Mixpanel's shape (429 `RateLimitExceeded`, 413, 5xx),
 *   optionally with `Retry-After` (Mixpanel's own emission of it is UNCONFIRMED, contract §2.3 / U4);
 * - `temporary-failure`: 200 with `{status: 0, error: "a temporary failure occurred"}` (or `0`), contract §3.1 / U14;
 * - `delay`: wait `ms`, then handle the request normally;
 * - `drop`: destroy the connection without an answer.
 * `afterIngest: true` (status and drop) stores the batch first: the client sees a failure although the
 * events were ingested, the case `$insert_id` de-duplication exists for (contract §4).
 */
export type FaultSpec =
  | { kind: 'status'; status: number; retryAfter?: number | string; afterIngest?: boolean; times?: FaultTimes; endpoints?: Endpoint[] }
  | { kind: 'temporary-failure'; times?: FaultTimes; endpoints?: Endpoint[] }
  | { kind: 'delay'; ms: number; times?: FaultTimes; endpoints?: Endpoint[] }
  | { kind: 'drop'; afterIngest?: boolean; times?: FaultTimes; endpoints?: Endpoint[] };

/** How many matching requests a fault applies to: a count (default 1) or `'always'`. */
export type FaultTimes = number | 'always';

export interface NormalizedFault {
  readonly kind: FaultSpec['kind'];
  readonly status: number | undefined;
  readonly retryAfter: string | undefined;
  readonly ms: number;
  readonly afterIngest: boolean;
  /** Requests left; `Infinity` for `'always'`. */
  remaining: number;
  readonly endpoints: ReadonlySet<Endpoint> | undefined;
}

const KINDS = ['status', 'temporary-failure', 'delay', 'drop'];
const ENDPOINTS: readonly Endpoint[] = ['import', 'track', 'engage', 'groups'];
const MAX_DELAY_MS = 10 * 60 * 1000; // a delay longer than any client timeout is a bug in the test

/** Validates fault specs (from options or the control endpoint); throws `Error` describing the first bad one. */
export function normalizeFaults(input: unknown): NormalizedFault[] {
  const list = Array.isArray(input) ? input : [input];
  return list.map((spec, index) => normalizeFault(spec, list.length > 1 ? `faults[${index}]` : 'fault'));
}

function normalizeFault(spec: unknown, where: string): NormalizedFault {
  if (!isPlainObject(spec)) throw new Error(`${where} must be an object like { kind: 'status', status: 429 }, got ${describe(spec)}`);
  const kind = spec.kind;
  if (typeof kind !== 'string' || !KINDS.includes(kind))
    throw new Error(`${where}.kind must be one of ${KINDS.join(', ')}, got ${describe(kind)}`);
  for (const key of Object.keys(spec)) {
    if (!['kind', 'status', 'retryAfter', 'afterIngest', 'times', 'endpoints', 'ms'].includes(key))
      throw new Error(`${where}.${key} is not a fault field`);
  }
  let status: number | undefined;
  if (kind === 'status') {
    status = spec.status as number;
    if (!Number.isInteger(status) || status < 400 || status > 599)
      throw new Error(`${where}.status must be an HTTP status 400–599, got ${describe(spec.status)}`);
  }
  let retryAfter: string | undefined;
  if (spec.retryAfter !== undefined) {
    if (kind !== 'status') throw new Error(`${where}.retryAfter only applies to kind 'status'`);
    if (typeof spec.retryAfter === 'number' && Number.isInteger(spec.retryAfter) && spec.retryAfter >= 0)
      retryAfter = String(spec.retryAfter);
    else if (typeof spec.retryAfter === 'string' && spec.retryAfter.trim() !== '') retryAfter = spec.retryAfter;
    else throw new Error(`${where}.retryAfter must be whole seconds or an HTTP date, got ${describe(spec.retryAfter)}`);
  }
  let ms = 0;
  if (kind === 'delay') {
    ms = spec.ms as number;
    if (!Number.isInteger(ms) || ms < 0 || ms > MAX_DELAY_MS)
      throw new Error(`${where}.ms must be an integer from 0 to ${MAX_DELAY_MS}, got ${describe(spec.ms)}`);
  }
  if (spec.afterIngest !== undefined && (typeof spec.afterIngest !== 'boolean' || (kind !== 'status' && kind !== 'drop'))) {
    throw new Error(`${where}.afterIngest must be a boolean, on kind 'status' or 'drop'`);
  }
  const times = spec.times ?? 1;
  let remaining: number;
  if (times === 'always') remaining = Infinity;
  else if (typeof times === 'number' && Number.isInteger(times) && times >= 1) remaining = times;
  else throw new Error(`${where}.times must be a positive integer or 'always', got ${describe(times)}`);
  let endpoints: Set<Endpoint> | undefined;
  if (spec.endpoints !== undefined) {
    if (!Array.isArray(spec.endpoints) || spec.endpoints.length === 0 || !spec.endpoints.every((e) => ENDPOINTS.includes(e as Endpoint))) {
      throw new Error(`${where}.endpoints must be a non-empty list of ${ENDPOINTS.join(', ')}`);
    }
    endpoints = new Set(spec.endpoints as Endpoint[]);
  }
  return { kind: kind as FaultSpec['kind'], status, retryAfter, ms, afterIngest: spec.afterIngest === true, remaining, endpoints };
}

/** The queue of pending faults. The first fault matching a request's endpoint is consumed by it. */
export class FaultPlan {
  #faults: NormalizedFault[] = [];

  constructor(initial: readonly NormalizedFault[] = []) {
    this.add(initial);
  }

  /** Appends faults (copies, so a plan never shares counters with the config). */
  add(faults: readonly NormalizedFault[]): void {
    for (const fault of faults) this.#faults.push({ ...fault });
  }

  clear(): void {
    this.#faults = [];
  }

  /** The fault the next request to `endpoint` suffers, counted as used; undefined when none is pending. */
  take(endpoint: Endpoint): NormalizedFault | undefined {
    const index = this.#faults.findIndex((fault) => fault.endpoints === undefined || fault.endpoints.has(endpoint));
    if (index === -1) return undefined;
    const fault = this.#faults[index]!;
    fault.remaining--;
    if (fault.remaining <= 0) this.#faults.splice(index, 1);
    return fault;
  }

  /** The pending faults, as JSON for the control endpoint. */
  list(): Array<Record<string, unknown>> {
    return this.#faults.map((fault) => ({
      kind: fault.kind,
      ...(fault.status !== undefined ? { status: fault.status } : {}),
      ...(fault.retryAfter !== undefined ? { retryAfter: fault.retryAfter } : {}),
      ...(fault.kind === 'delay' ? { ms: fault.ms } : {}),
      ...(fault.afterIngest ? { afterIngest: true } : {}),
      times: fault.remaining === Infinity ? 'always' : fault.remaining,
      ...(fault.endpoints ? { endpoints: [...fault.endpoints] } : {}),
    }));
  }
}
