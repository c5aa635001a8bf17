// The performance targets (docs/performance.md), each read from the figures of one run and judged met
// or missed. Every ratio is taken within that run (mostly within one round of it), never against
// figures from another day. The ratios to bare and to the floor are reported in the tables, not judged.
// A smoke run judges them too, but its windows are too short for the verdicts to mean anything.
import type { DeliveryBenchResult } from './delivery.js';
import { num, table, times } from './report.js';
import type { RequestCostResult } from './request-cost.js';
import type { TrackBenchResult } from './track.js';

export interface TargetRow {
  /** Stable key, e.g. `express.toFloor`. */
  id: string;
  target: string;
  /** The measured value as printed, with its unit. */
  measured: string;
  value: number;
  /** Undefined when the benchmark it needs did not produce a result. */
  met: boolean | undefined;
  /** Where the figure comes from. */
  source: string;
}

export interface TargetInputs {
  express?: RequestCostResult;
  koa?: RequestCostResult;
  fastify?: RequestCostResult;
  track?: TrackBenchResult;
  delivery?: DeliveryBenchResult;
}

/** The track() case the ≤ 2 µs target is read from: the core call every adapter ends in. */
const TRACK_CASE = 'tracker.track(event, props, { deviceId })';
const TRACK_TARGET_NS = 2000;
const DELIVERY_TARGET = 150_000;
const CEILING_SHARE = 0.5;
const WIRE_BYTES = 50;
/** idstitch's req/s over the fastest peer's, in the same round. */
const TO_BEST_PEER = { express: 1.25, koa: 2, fastify: 2 } as const;
/** idstitch's req/s over the floor's (the same work written by hand), where a target is set. */
const TO_FLOOR = { fastify: 0.9 } as const;
const NAMES = { express: 'Express', koa: 'Koa', fastify: 'Fastify' } as const;
const CPU_TO_BEST_PEER = 0.5;

function missing(id: string, target: string, source: string): TargetRow {
  return { id, target, measured: 'n/a', value: Number.NaN, met: undefined, source };
}

function requestCostTargets(result: RequestCostResult | undefined, framework: keyof typeof NAMES): TargetRow[] {
  const name = NAMES[framework];
  const source = `bench/${framework}.ts`;
  const targets = [
    [`${framework}.toBestPeer`, `${name}: idstitch req/s ≥ ${TO_BEST_PEER[framework]} × the fastest peer's in the same round`],
    [`${framework}.addedCpu`, `${name}: server CPU added per request (vs bare) ≤ ½ the leanest peer's`],
  ] as const;
  if (!result) return targets.map(([id, target]) => missing(id, target, source));
  const id = result.summary.idstitch;
  const peer = result.versusPeers.bestPeerByCpu;
  const idAdded = id.addedCpuMicros.median;
  const peerAdded = result.summary[peer].addedCpuMicros.median;
  return [
    {
      id: targets[0][0],
      target: targets[0][1],
      measured: `${times(result.versusPeers.toBestPeer.median)} (fastest: ${result.versusPeers.bestPeerByThroughput})`,
      value: result.versusPeers.toBestPeer.median,
      met: result.versusPeers.toBestPeer.median >= TO_BEST_PEER[framework],
      source,
    },
    {
      id: targets[1][0],
      target: targets[1][1],
      measured: `${num(idAdded)} µs vs ${num(peerAdded)} µs (${peer})`,
      value: idAdded,
      // Compared directly, not as a ratio: a peer's added cost near zero (noise) would make a ratio meaningless.
      met: idAdded <= CPU_TO_BEST_PEER * peerAdded,
      source,
    },
  ];
}

function floorTarget(result: RequestCostResult | undefined, framework: keyof typeof TO_FLOOR): TargetRow {
  const id = `${framework}.toFloor`;
  const target = `${NAMES[framework]}: idstitch req/s ≥ ${TO_FLOOR[framework]} × the floor's in the same round`;
  const source = `bench/${framework}.ts`;
  if (!result) return missing(id, target, source);
  const value = result.summary.idstitch.toFloor.median;
  return { id, target, measured: times(value), value, met: value >= TO_FLOOR[framework], source };
}

export function evaluateTargets(inputs: TargetInputs): TargetRow[] {
  const rows = [
    ...requestCostTargets(inputs.express, 'express'),
    ...requestCostTargets(inputs.koa, 'koa'),
    ...requestCostTargets(inputs.fastify, 'fastify'),
    floorTarget(inputs.fastify, 'fastify'),
  ];
  const clean = inputs.delivery?.summary[0];
  const deliverySource = 'bench/delivery.ts (clean scenario)';
  const deliveryTargets = [
    ['delivery.rate', `delivered ≥ ${num(DELIVERY_TARGET)} events/s with gzip, retries and the bounded queue on`],
    ['delivery.ceiling', `delivered ≥ ${CEILING_SHARE * 100} % of the one-thread JSON.stringify + gzip ceiling`],
    ['delivery.wireBytes', `≤ ${WIRE_BYTES} bytes per event on the wire`],
  ] as const;
  if (clean && inputs.delivery) {
    const rate = clean.deliveredPerSecond.median;
    rows.push(
      {
        id: deliveryTargets[0][0],
        target: deliveryTargets[0][1],
        measured: `${num(rate)} events/s`,
        value: rate,
        met: rate >= DELIVERY_TARGET,
        source: deliverySource,
      },
      {
        id: deliveryTargets[1][0],
        target: deliveryTargets[1][1],
        measured: `${times(clean.toCeiling, 2)} (ceiling ${num(inputs.delivery.ceiling.eventsPerSecond)}/s)`,
        value: clean.toCeiling,
        met: clean.toCeiling >= CEILING_SHARE,
        source: deliverySource,
      },
      {
        id: deliveryTargets[2][0],
        target: deliveryTargets[2][1],
        measured: `${num(clean.wireBytesPerEvent, 1)} B (JSON ${num(clean.jsonBytesPerEvent)} B)`,
        value: clean.wireBytesPerEvent,
        met: clean.wireBytesPerEvent <= WIRE_BYTES,
        source: deliverySource,
      },
    );
  } else {
    rows.push(...deliveryTargets.map(([id, target]) => missing(id, target, deliverySource)));
  }
  const track = inputs.track?.cases.find((c) => c.name === TRACK_CASE);
  const trackTarget = `track() ≤ ${TRACK_TARGET_NS / 1000} µs per call (median)`;
  rows.push(
    track
      ? {
          id: 'track.ns',
          target: trackTarget,
          measured: `${num(track.ns.median)} ns`,
          value: track.ns.median,
          met: track.ns.median <= TRACK_TARGET_NS,
          source: `bench/track.ts (${TRACK_CASE})`,
        }
      : missing('track.ns', trackTarget, 'bench/track.ts'),
  );
  return rows;
}

export function formatTargets(rows: readonly TargetRow[]): string {
  const verdict = (met: boolean | undefined): string => (met === undefined ? 'no figure' : met ? 'met' : 'MISSED');
  return table(
    ['target', 'measured', ''],
    rows.map((row) => [row.target, row.measured, verdict(row.met)]),
  );
}
