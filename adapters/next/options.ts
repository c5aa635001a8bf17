// nextTracking's own options, checked once, and the tracker shared per configuration.
import { ConfigError } from '../../src/errors.js';
import { describe, rejectUnknown } from '../../src/option-checks.js';
import type { TrackerOptions } from '../../src/options.js';
import { createTracker, type Tracker } from '../../src/tracker.js';
import type { NextAdapterOptions } from './types.js';

/** Proxies a request can pass through before Next; more is a misconfiguration, not a topology. */
const MAX_TRUSTED_PROXIES = 32;

const ADAPTER_OPTION_NAMES: ReadonlyArray<keyof NextAdapterOptions> = ['getUserId', 'flushAfterResponse', 'trustProxy'];

export function checkAdapterOptions(options: NextAdapterOptions): NextAdapterOptions {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', `must be an object, got ${describe(options)}`);
  rejectUnknown(options, ADAPTER_OPTION_NAMES, '');
  if (options.getUserId !== undefined && typeof options.getUserId !== 'function') {
    throw new ConfigError('getUserId', `must be a function (source) => userId (it may be async), got ${describe(options.getUserId)}`);
  }
  if (options.flushAfterResponse !== undefined && typeof options.flushAfterResponse !== 'boolean') {
    throw new ConfigError('flushAfterResponse', `must be true or false, got ${describe(options.flushAfterResponse)}`);
  }
  const { trustProxy } = options;
  if (
    trustProxy !== undefined &&
    !(typeof trustProxy === 'number' && Number.isInteger(trustProxy) && trustProxy >= 0 && trustProxy <= MAX_TRUSTED_PROXIES)
  ) {
    throw new ConfigError(
      'trustProxy',
      `must be the number of proxies in front of Next, an integer 0–${MAX_TRUSTED_PROXIES} (never true: the left-most X-Forwarded-For entry is the client's to write), got ${describe(trustProxy)}`,
    );
  }
  return options;
}

/** Trackers by their options, under a registry symbol: every bundle and every copy of idstitch finds the same map. */
const TRACKERS = Symbol.for('idstitch.next.trackers');

export function sharedTracker(options: TrackerOptions): Tracker {
  const registry = globalThis as { [TRACKERS]?: Map<string, Tracker> };
  const trackers = (registry[TRACKERS] ??= new Map());
  let key: string;
  try {
    // Next evaluates the app's tracking module once per server bundle and again on each dev reload:
    // the same code, with new function objects each time. So functions count by their source text:
    // those copies share one tracker, while two configurations whose onError (or consent, or
    // logger) differ get one each, and each handler hears only its own tracker's errors.
    key = JSON.stringify(options, (_name, value: unknown) =>
      typeof value === 'function' ? `function ${String(value)}` : typeof value === 'bigint' ? `${value}n` : value,
    );
  } catch {
    return createTracker(options); // options JSON cannot describe (a cycle): not shared
  }
  let tracker = trackers.get(key);
  if (tracker === undefined) {
    tracker = createTracker(options);
    trackers.set(key, tracker);
  }
  return tracker;
}
