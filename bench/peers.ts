// The SDKs people use today, set up the way their READMEs show, for the benchmarks that compare
// idstitch with them: each keeps its defaults except the host, which points at the bench sink over
// plain HTTP. Each one's events land on its own sink route (bench/sink-routes.ts), so a shared sink
// still counts them apart.
//
// The same event everywhere: a name, small properties and the browser's device id (the user id when
// signed in), expressed in each SDK's idiom:
//   mixpanel  track(name, { distinct_id, $device_id, $user_id?, ...props }); its README puts the id in
//             `distinct_id`, and Simplified ID Merge reads `$device_id` / `$user_id`
//   posthog   capture({ distinctId: user id or device id, event, properties })
//   segment   track({ anonymousId: device id, userId?, event, properties })
// The SDKs are imported only by the process that uses one, so no other variant's memory or start-up
// carries their code.
import type { RouteName } from './sink-routes.js';

export const PEERS = ['mixpanel', 'posthog', 'segment'] as const;
export type Peer = (typeof PEERS)[number];

/** The sink route each peer's default transport lands on. */
export const PEER_ROUTES: Record<Peer, RouteName> = { mixpanel: 'track', posthog: 'posthog', segment: 'segment' };

export interface PeerEvent {
  name: string;
  properties: Record<string, unknown>;
  identity: { deviceId: string; userId?: string };
}

export interface PeerClient {
  readonly name: Peer;
  /** One event, the way the SDK's README tracks one. */
  track(event: PeerEvent): void;
  /**
   * Many events at once, through the SDK's batch API when it has one (mixpanel's track_batch());
   * the others have only the per-event call and batch internally.
   */
  trackMany(events: readonly PeerEvent[]): void;
  /** Sends everything tracked so far and resolves when the SDK says it is done (bounded). */
  flush(timeoutMs: number): Promise<void>;
  /** The SDK's own shutdown, or flush() when it has none (bounded). */
  shutdown(timeoutMs: number): Promise<void>;
  /** Failures the SDK reported through its callbacks or error events. */
  errors(): number;
  /** The first few distinct failure messages, to tell a sink problem from the SDK's own. */
  errorSamples(): string[];
}

/** Counts failures and keeps the first few distinct messages. */
function errorLog(): { record(error: unknown): void; count(): number; samples(): string[] } {
  let count = 0;
  const samples = new Set<string>();
  return {
    record(error) {
      count++;
      if (samples.size < 3)
        samples.add(
          error instanceof Error
            ? `${error.name}: ${error.message}${(error as { code?: string }).code ? ` (${(error as { code?: string }).code})` : ''}`
            : String(error),
        );
    },
    count: () => count,
    samples: () => [...samples],
  };
}

/** Resolves after `ms`, without keeping the process alive. */
function delay(ms: number): Promise<'late'> {
  return new Promise((resolve) => setTimeout(() => resolve('late'), ms).unref());
}

/** Waits for `promise` at most `ms`; a late SDK is left running (its unsent events show as lost). */
async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  await Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    delay(ms),
  ]);
}

/**
 * mixpanel-node has no queue and no flush: every track() is its own GET, every track_batch() sends
 * its 50-event chunks at once. "Flushed" is every callback having come back, so the callbacks are counted.
 */
async function mixpanelClient(sinkUrl: string): Promise<PeerClient> {
  const { default: Mixpanel } = await import('mixpanel');
  const client = Mixpanel.init('bench-token', { host: new URL(sinkUrl).host, protocol: 'http' });
  let pending = 0;
  const errors = errorLog();
  let idle: Array<() => void> = [];
  const settle = (failures: readonly unknown[] | undefined): void => {
    for (const failure of failures ?? []) errors.record(failure);
    if (--pending === 0) {
      const waiting = idle;
      idle = [];
      for (const wake of waiting) wake();
    }
  };
  const properties = (event: PeerEvent): Record<string, unknown> => {
    const { deviceId, userId } = event.identity;
    return userId === undefined
      ? { distinct_id: deviceId, $device_id: deviceId, ...event.properties }
      : { distinct_id: userId, $device_id: deviceId, $user_id: userId, ...event.properties };
  };
  const drained = (): Promise<void> => (pending === 0 ? Promise.resolve() : new Promise((resolve) => idle.push(resolve)));
  return {
    name: 'mixpanel',
    track(event) {
      pending++;
      client.track(event.name, properties(event), (error) => settle(error ? [error] : undefined));
    },
    trackMany(events) {
      pending++;
      client.track_batch(
        events.map((event) => ({ event: event.name, properties: properties(event) })),
        (failures) => settle(failures ?? undefined),
      );
    },
    flush: (timeoutMs) => bounded(drained(), timeoutMs),
    shutdown: (timeoutMs) => bounded(drained(), timeoutMs),
    errors: errors.count,
    errorSamples: errors.samples,
  };
}

async function posthogClient(sinkUrl: string): Promise<PeerClient> {
  const { PostHog } = await import('posthog-node');
  const client = new PostHog('phc_bench', { host: sinkUrl });
  const errors = errorLog();
  client.on('error', errors.record);
  const capture = (event: PeerEvent): void =>
    client.capture({ distinctId: event.identity.userId ?? event.identity.deviceId, event: event.name, properties: event.properties });
  return {
    name: 'posthog',
    track: capture,
    trackMany: (events) => events.forEach(capture),
    // flush() rejects when a batch failed; the failure is already counted through the error event.
    flush: (timeoutMs) => bounded(client.flush(), timeoutMs),
    shutdown: (timeoutMs) => bounded(client.shutdown(timeoutMs), timeoutMs + 1000),
    errors: errors.count,
    errorSamples: errors.samples,
  };
}

/**
 * analytics-node sends every batch of 15 at once, with no limit on batches in flight, and keeps each
 * event's promise until its batch is answered (memory grows with what is in flight). Its flush()
 * counts down the events still pending from the moment it is called; when batches were already in
 * flight then, the count never meets the last partial batch, which then waits for the 10 s
 * flushInterval timer (publisher.ts flush/enqueue/send). The benchmarks show that wait as it is.
 */
async function segmentClient(sinkUrl: string): Promise<PeerClient> {
  const { Analytics } = await import('@segment/analytics-node');
  const client = new Analytics({ writeKey: 'bench', host: sinkUrl });
  const errors = errorLog();
  client.on('error', (error) => errors.record(error.reason ?? error));
  const track = (event: PeerEvent): void =>
    client.track({
      anonymousId: event.identity.deviceId,
      ...(event.identity.userId === undefined ? {} : { userId: event.identity.userId }),
      event: event.name,
      properties: event.properties,
    });
  return {
    name: 'segment',
    track,
    trackMany: (events) => events.forEach(track),
    // flush({ timeout }) aborts what is still in flight at the deadline: those events show as lost.
    flush: (timeoutMs) => client.flush({ timeout: timeoutMs }),
    shutdown: (timeoutMs) => client.closeAndFlush({ timeout: timeoutMs }),
    errors: errors.count,
    errorSamples: errors.samples,
  };
}

export function createPeer(name: Peer, sinkUrl: string): Promise<PeerClient> {
  switch (name) {
    case 'mixpanel':
      return mixpanelClient(sinkUrl);
    case 'posthog':
      return posthogClient(sinkUrl);
    case 'segment':
      return segmentClient(sinkUrl);
  }
}

/** Installed versions, for the results file. */
export const PEER_PACKAGES = ['mixpanel', 'posthog-node', '@posthog/core', '@segment/analytics-node', '@segment/analytics-core'] as const;
