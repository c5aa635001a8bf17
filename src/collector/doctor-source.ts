import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { DEVICE_PREFIX } from '../id-merge.js';
import { diagnose } from '../doctor/checks.js';
import { DoctorError } from '../doctor/errors.js';
import type { DoctorEvent, DoctorInput, DoctorProfile, DoctorReport } from '../doctor/report.js';
import type { CollectorStore } from './store.js';

/** A source that holds a database connection until `close`. */
export interface ClosableInput extends DoctorInput {
  close(): void;
}

/**
 * A collector's SQLite file, opened read-only: safe while the collector that owns it is running (WAL lets
 * a reader see every committed batch). Events stream in ingestion order (`seq`) without their properties,
 * which no check reads; profiles follow, once the events are done (one statement at a time per connection).
 */
export function readCollectorDatabase(path: string): ClosableInput {
  if (!existsSync(path))
    throw new DoctorError('IDSTITCH_DOCTOR_UNREADABLE', `${path}: no such file (the collector's --db, default ./idstitch.sqlite)`);
  let db: Database.Database;
  let events: Database.Statement<[], DoctorEvent>;
  let profiles: Database.Statement<[], { distinctId: string; properties: string }>;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new DoctorError('IDSTITCH_DOCTOR_UNREADABLE', `${path}: cannot open it as a SQLite database (${(error as Error).message})`, {
      cause: error,
    });
  }
  try {
    // Columns, not the schema version: any store with these columns can be read, and a wrong file says so plainly.
    events = db.prepare(
      'SELECT event, time, insert_id AS insertId, device_id AS deviceId, user_id AS userId, distinct_id AS distinctId FROM events ORDER BY seq',
    );
    profiles = db.prepare('SELECT distinct_id AS distinctId, properties FROM profiles');
  } catch (error) {
    db.close();
    throw new DoctorError('IDSTITCH_DOCTOR_UNREADABLE', `${path} is not an idstitch collector database (${(error as Error).message})`, {
      cause: error,
    });
  }
  return {
    description: `collector database ${path}`,
    events: { [Symbol.iterator]: () => events.iterate() },
    profiles: {
      *[Symbol.iterator]() {
        for (const row of profiles.iterate())
          yield { distinctId: row.distinctId, properties: JSON.parse(row.properties) as Record<string, unknown> };
      },
    },
    skipped: 0,
    close: () => db.close(),
  };
}

/**
 * A running collector's store. A file-backed one is read through its own read-only connection, which sees
 * every profile; an in-memory one only through the store's API, which finds a profile by id: the ids tried
 * are every user and device the events name, so a profile for an id no event carries is not seen.
 */
export function readCollectorStore(store: CollectorStore, storage: string): ClosableInput {
  if (storage !== ':memory:' && storage !== '') return { ...readCollectorDatabase(storage), description: `collector store ${storage}` };
  const graph = store.graph;
  return {
    description: 'collector store (in memory)',
    events: store.allEvents(),
    profiles: {
      *[Symbol.iterator](): Iterator<DoctorProfile> {
        const ids = new Set<string>();
        for (const userId of graph.users()) {
          ids.add(userId);
          for (const deviceId of graph.devicesOf(userId)) ids.add(DEVICE_PREFIX + deviceId).add(deviceId);
        }
        for (const deviceId of graph.anonymousDevices()) ids.add(DEVICE_PREFIX + deviceId).add(deviceId);
        for (const distinctId of ids) {
          const profile = store.getProfile(distinctId);
          if (profile) yield { distinctId, properties: profile.properties };
        }
      },
    },
    skipped: 0,
    close: () => {},
  };
}

/** The report of a collector's own store, synchronously: its query API and page call it per request. */
export function diagnoseStore(store: CollectorStore, storage: string, examples: number): DoctorReport {
  const input = readCollectorStore(store, storage);
  try {
    return diagnose(input, examples);
  } finally {
    input.close();
  }
}
