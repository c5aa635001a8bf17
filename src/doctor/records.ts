import { isPlainObject } from '../options.js';
import { deriveIdentity, MILLISECONDS_FROM, MIXPANEL_RULES } from '../id-merge.js';
import type { DoctorEvent, DoctorProfile } from './report.js';

/**
 * Mixpanel-shaped records (an NDJSON export, an `/import` or `/engage` request body) turned into what the
 * analysis reads. Identity is derived by the collector's rules (`deriveIdentity`), so an export is judged
 * exactly as the collector would have stored it.
 */
export type ReadRecord =
  | {
      readonly kind: 'event';
      readonly event: DoctorEvent;
      /** `mp_processing_time_ms` of a raw export: the ingestion order. */ readonly processedAt: number | undefined;
    }
  | { readonly kind: 'profile'; readonly record: Readonly<Record<string, unknown>> }
  | { readonly kind: 'skip' };

/** An event (`{event, properties}`), a profile update or exported profile (`{$distinct_id, …}`), or neither. */
export function readRecord(record: unknown): ReadRecord {
  if (!isPlainObject(record)) return { kind: 'skip' };
  if (typeof record.event === 'string') return readEvent(record.event, record.properties);
  if (idOf(record.$distinct_id) !== undefined) return { kind: 'profile', record };
  return { kind: 'skip' };
}

function readEvent(name: string, raw: unknown): ReadRecord {
  if (name.trim() === '') return { kind: 'skip' };
  const properties = isPlainObject(raw) ? raw : {};
  // A raw export names the resolved user in `distinct_id` and keeps what was sent in `$distinct_id_before_identity` (contract §5.2 R10).
  const before = properties.$distinct_id_before_identity;
  const identity = deriveIdentity(
    {
      distinctId: idOf(typeof before === 'string' ? before : properties.distinct_id),
      deviceId: idOf(properties.$device_id),
      userId: idOf(properties.$user_id),
    },
    MIXPANEL_RULES,
  );
  const time = properties.time;
  const processed = properties.mp_processing_time_ms;
  return {
    kind: 'event',
    event: {
      event: name,
      // Exports give seconds, idstitch and most /import bodies ms: Mixpanel's threshold tells them apart.
      time: typeof time === 'number' && Number.isFinite(time) ? Math.round(time >= MILLISECONDS_FROM ? time : time * 1000) : null,
      insertId: typeof properties.$insert_id === 'string' && properties.$insert_id !== '' ? properties.$insert_id : null,
      deviceId: identity.deviceId ?? null,
      userId: identity.userId ?? null,
      distinctId: identity.distinctId ?? '',
    },
    processedAt: typeof processed === 'number' && Number.isFinite(processed) ? processed : undefined,
  };
}

/** Ids are strings; numbers are sent as their decimal text (as the collector stores them). */
function idOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

const SETTERS = ['$set', '$set_once', '$add', '$append', '$union', '$remove'] as const;

/**
 * Profiles by exact `$distinct_id`, as `/engage` keys them (contract §5.7). Only which properties were set
 * matters to the checks, so list operations just mark their property as present.
 */
export class ProfileBook {
  readonly #profiles = new Map<string, Record<string, unknown>>();

  /** Applies an update (`$set`, `$unset`, `$delete`, …) or an exported profile (`$properties`). */
  apply(record: Readonly<Record<string, unknown>>): void {
    const id = idOf(record.$distinct_id)!;
    if (record.$delete !== undefined) {
      this.#profiles.delete(id);
      return;
    }
    const properties = this.#profiles.get(id) ?? {};
    for (const key of ['$properties', ...SETTERS]) {
      const values = record[key];
      if (isPlainObject(values))
        for (const [name, value] of Object.entries(values)) if (key !== '$set_once' || !(name in properties)) properties[name] = value;
    }
    if (Array.isArray(record.$unset)) for (const name of record.$unset) if (typeof name === 'string') delete properties[name];
    this.#profiles.set(id, properties);
  }

  *profiles(): IterableIterator<DoctorProfile> {
    for (const [distinctId, properties] of this.#profiles) yield { distinctId, properties };
  }
}
