// Issue 7's targets, each read from the figures of one run and judged met or missed. Every ratio is
// taken within that run (mostly within one round of it), never against figures from another day.
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
  track?: TrackBenchResult;
  delivery?: DeliveryBenchResult;
}

/** The track() case the ≤ 2 µs target is read from: the core call every adapter ends in. */
const TRACK_CASE = 'tracker.track(event, props, { deviceId })';
const TRACK_TARGET_NS = 2000;
const DELIVERY_TARGET = 150_000;
const CEILING_SHARE = 0.5;
const WIRE_BYTES = 50;
const TO_FLOOR = 0.97;
const TO_BEST_PEER = 1.3;
const CPU_TO_BEST_PEER = 0.5;
const P99_TO_BARE = 1.1;

function missing(id: string, target: string, source: string): TargetRow {
  return { id, target, measured: 'n/a', value: Number.NaN, met: undefined, source };
}

function requestCostTargets(result: RequestCostResult | undefined, framework: 'express' | 'koa'): TargetRow[] {
  const name = framework === 'express' ? 'Express' : 'Koa';
  const source = `bench/${framework}.ts`;
  const targets = [
    [`${framework}.toFloor`, `${name}: idstitch req/s within 3 % of the floor (÷ floor ≥ ${times(TO_FLOOR, 2)}, median of rounds)`],
    [`${framework}.toBestPeer`, `${name}: idstitch req/s ≥ ${TO_BEST_PEER} × the fastest peer's in the same round`],
    [`${framework}.addedCpu`, `${name}: server CPU added per request (vs bare) ≤ ½ the leanest peer's`],
    [
      `${framework}.p99`,
      `${name}: p99 latency within 10 % of bare (÷ bare ≤ ${times(P99_TO_BARE, 2)}) at a rate every variant keeps up with`,
    ],
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
      measured: times(id.toFloor.median),
      value: id.toFloor.median,
      met: id.toFloor.median >= TO_FLOOR,
      source,
    },
    {
      id: targets[1][0],
      target: targets[1][1],
      measured: `${times(result.versusPeers.toBestPeer.median)} (fastest: ${result.versusPeers.bestPeerByThroughput})`,
      value: result.versusPeers.toBestPeer.median,
      met: result.versusPeers.toBestPeer.median >= TO_BEST_PEER,
      source,
    },
    {
      id: targets[2][0],
      target: targets[2][1],
      measured: `${num(idAdded)} µs vs ${num(peerAdded)} µs (${peer})`,
      value: idAdded,
      // Compared directly, not as a ratio: a peer's added cost near zero (noise) would make a ratio meaningless.
      met: idAdded <= CPU_TO_BEST_PEER * peerAdded,
      source,
    },
    {
      id: targets[3][0],
      target: targets[3][1],
      // Judged at the paced rate (at saturation latency only mirrors throughput: see PACED_RATE), on
      // every round's responses together (one pause can set a round's p99); the others beside it.
      measured: `${times(id.pacedPooledP99ToBare)} at ${num(result.settings.pacedRate)} req/s (${num(id.pacedPooledP99Ms, 1)} vs ${num(result.summary.bare.pacedPooledP99Ms, 1)} ms); median of rounds ${times(id.pacedP99ToBare.median)}; saturated ${times(id.p99ToBare.median)} (${id.latencyP99Ms} vs ${result.summary.bare.latencyP99Ms} ms)`,
      value: id.pacedPooledP99ToBare,
      met: id.pacedPooledP99ToBare <= P99_TO_BARE,
      source,
    },
  ];
}

export function evaluateTargets(inputs: TargetInputs): TargetRow[] {
  const rows = [...requestCostTargets(inputs.express, 'express'), ...requestCostTargets(inputs.koa, 'koa')];
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
