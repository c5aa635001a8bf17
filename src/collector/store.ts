import Database from 'better-sqlite3';
import { ASSIGNED_ALREADY, IdentityGraph, type DerivedIdentity, type GraphChange } from '../id-merge.js';

/** An event that passed validation, ready to store. `properties` is final but for identity markers added here. */
export interface EventRecord {
  readonly event: string;
  /** ms since the epoch. */
  readonly time: number;
  readonly insertId: string | null;
  readonly identity: DerivedIdentity;
  /** The `distinct_id` to store: derived, or `''`, or an ip hash. */
  readonly distinctId: string;
  /** False for identity verbs stored without identity effect (contract §5.4). */
  readonly link: boolean;
  readonly properties: Record<string, unknown>;
  readonly endpoint: 'import' | 'track';
}

/** A stored event row. */
export interface StoredEvent {
  readonly seq: number;
  readonly event: string;
  readonly time: number;
  readonly insertId: string | null;
  readonly deviceId: string | null;
  readonly userId: string | null;
  /** The `distinct_id` derived at ingestion. */
  readonly distinctId: string;
  readonly endpoint: 'import' | 'track';
  readonly receivedAt: number;
  /** JSON of the stored properties. */
  readonly properties: string;
}

/** Per stored `distinct_id`: events (duplicates by the stored key counted once), raw rows, first and last time. */
export interface DistinctIdSummary {
  readonly distinctId: string;
  readonly events: number;
  readonly rawEvents: number;
  readonly firstTime: number;
  readonly lastTime: number;
}

export interface Profile {
  readonly properties: Record<string, unknown>;
  /** ms, or null when every update said `$ignore_time`. */
  readonly lastSeen: number | null;
}

const SCHEMA_VERSION = '1';

// One table per thing the collector owns. `events.distinct_id` is what ingestion derived; resolution to
// the user happens at query time through `devices` (contract §5.10), so a later link re-attributes
// earlier anonymous events without rewriting them. The (distinct_id, time) index serves the feed and
// the duplicate probe; rowid (seq) is the ingestion order and the tie-break. `copy` is 1 when an
// earlier row has the same stored de-duplication key, so per-id counts can skip copies.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  event TEXT NOT NULL,
  time INTEGER NOT NULL,
  insert_id TEXT,
  device_id TEXT,
  user_id TEXT,
  distinct_id TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  copy INTEGER NOT NULL,
  properties TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_distinct_id ON events (distinct_id, time);
CREATE TABLE IF NOT EXISTS devices (
  device_id TEXT PRIMARY KEY,
  user_id TEXT,
  first_seq INTEGER NOT NULL,
  link_seq INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS devices_by_user ON devices (user_id) WHERE user_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, first_seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS profiles (distinct_id TEXT PRIMARY KEY, properties TEXT NOT NULL, last_seen INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_profiles (
  group_key TEXT NOT NULL,
  group_id TEXT NOT NULL,
  properties TEXT NOT NULL,
  PRIMARY KEY (group_key, group_id)
) WITHOUT ROWID;
`;

const EVENT_COLUMNS =
  'seq, event, time, insert_id AS insertId, device_id AS deviceId, user_id AS userId, distinct_id AS distinctId, endpoint, received_at AS receivedAt, properties';

/**
 * The collector's storage: SQLite through better-sqlite3 (synchronous, so a batch and its identity
 * decisions are one atomic step), plus the in-memory `IdentityGraph` it keeps in step.
 */
export class CollectorStore {
  readonly graph = new IdentityGraph();
  readonly #db: Database.Database;
  readonly #statements: Statements;
  readonly #ingestBatch: (records: readonly EventRecord[], receivedAt: number) => number;
  readonly #markConflicts: boolean;
  /** Per stored distinct_id counts, kept in memory (rebuilt on open) so ingestion writes no summary rows. */
  readonly #summaries = new Map<string, MutableSummary>();
  #pendingSummaries = new Map<string, MutableSummary>();
  #nextSeq: number;

  /** Opens (creating if needed) the database at `path`, or an in-memory one for `':memory:'`. */
  constructor(path: string, options: { markConflicts?: boolean } = {}) {
    this.#markConflicts = options.markConflicts ?? true;
    this.#db = new Database(path);
    const memory = path === ':memory:';
    // WAL lets the query API read while a batch commits; NORMAL sync is durable enough for a dev tool.
    this.#db.pragma(memory ? 'journal_mode = MEMORY' : 'journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('temp_store = MEMORY');
    this.#db.pragma('cache_size = -65536'); // KiB: 64 MiB of page cache
    // Pages: checkpoint every ~64 MiB of WAL instead of 4 MiB; checkpoints dominated file ingestion in bench/collector.ts.
    if (!memory) this.#db.pragma('wal_autocheckpoint = 16384');
    this.#db.exec(SCHEMA);
    const version = this.#db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema'").get();
    if (version === undefined) this.#db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
    else if (version.value !== SCHEMA_VERSION)
      throw new Error(`collector database ${path} has schema ${version.value}; this version reads ${SCHEMA_VERSION}`);

    const db = this.#db;
    this.#statements = prepareStatements(db);

    this.#nextSeq = (db.prepare('SELECT coalesce(max(seq), 0) FROM events').pluck().get() as number) + 1;
    this.graph.load(
      db
        .prepare<[], { deviceId: string; userId: string | null }>(
          'SELECT device_id AS deviceId, user_id AS userId FROM devices ORDER BY first_seq',
        )
        .all(),
      db.prepare('SELECT user_id FROM users ORDER BY first_seq').pluck().all() as string[],
    );
    for (const row of db
      .prepare<[], { distinctId: string; events: number; raw: number; first: number; last: number }>(
        'SELECT distinct_id AS distinctId, sum(1 - copy) AS events, count(*) AS raw, min(time) AS first, max(time) AS last FROM events GROUP BY distinct_id',
      )
      .all()) {
      this.#summaries.set(row.distinctId, { events: row.events, raw: row.raw, first: row.first, last: row.last });
    }
    this.#ingestBatch = db.transaction((records: readonly EventRecord[], receivedAt: number) => this.#write(records, receivedAt));
  }

  /**
   * Stores a batch in one transaction, in order: each event's identity is applied to the graph as it is
   * stored, so "first" in first-link-wins means ingestion order (contract §5.5). Returns the count stored.
   */
  ingest(records: readonly EventRecord[], receivedAt: number): number {
    if (records.length === 0) return 0;
    const seq = this.#nextSeq;
    try {
      const stored = this.#ingestBatch(records, receivedAt);
      this.graph.commit();
      for (const [distinctId, batch] of this.#pendingSummaries) {
        const summary = this.#summaries.get(distinctId);
        if (!summary) this.#summaries.set(distinctId, batch);
        else {
          summary.events += batch.events;
          summary.raw += batch.raw;
          summary.first = Math.min(summary.first, batch.first);
          summary.last = Math.max(summary.last, batch.last);
        }
      }
      return stored;
    } catch (error) {
      this.graph.rollback();
      this.#nextSeq = seq;
      throw error;
    }
  }

  #write(records: readonly EventRecord[], receivedAt: number): number {
    const s = this.#statements;
    const summaries = (this.#pendingSummaries = new Map<string, MutableSummary>());
    for (const record of records) {
      const seq = this.#nextSeq++;
      const outcome = this.graph.observe(record.identity, record.link, seq);
      const properties = record.properties;
      if (outcome === 'conflict' && this.#markConflicts) properties.$identity_failure_reason = ASSIGNED_ALREADY;
      const copy = record.insertId !== null && s.findCopy.get(record.distinctId, record.time, record.event, record.insertId) !== undefined;
      s.insertEvent.run(
        seq,
        record.event,
        record.time,
        record.insertId,
        record.identity.deviceId ?? null,
        record.identity.userId ?? null,
        record.distinctId,
        record.endpoint,
        receivedAt,
        copy ? 1 : 0,
        JSON.stringify(properties),
      );
      let summary = summaries.get(record.distinctId);
      if (!summary) summaries.set(record.distinctId, (summary = { events: 0, raw: 0, first: record.time, last: record.time }));
      summary.raw++;
      if (!copy) summary.events++;
      summary.first = Math.min(summary.first, record.time);
      summary.last = Math.max(summary.last, record.time);
    }
    this.#persist(this.graph.pending());
    return records.length;
  }

  #persist(changes: readonly GraphChange[]): void {
    const s = this.#statements;
    for (const change of changes) {
      if (change.kind === 'device') s.insertDevice.run(change.deviceId, change.seq);
      else if (change.kind === 'user') s.insertUser.run(change.userId, change.seq);
      else s.linkDevice.run(change.userId, change.seq, change.deviceId);
    }
  }

  /** Events stored under each of `distinctIds`, merged in (time, ingestion) order, duplicates included. */
  eventsOf(distinctIds: readonly string[]): StoredEvent[] {
    if (distinctIds.length === 1) return this.#statements.eventsOf.all(distinctIds[0]!);
    const rows = distinctIds.flatMap((id) => this.#statements.eventsOf.all(id));
    return rows.sort((a, b) => a.time - b.time || a.seq - b.seq);
  }

  /** Every stored event in ingestion order (for tests and exports; not for large stores). */
  allEvents(): StoredEvent[] {
    return this.#statements.allEvents.all();
  }

  countEvents(): number {
    return this.#statements.countEvents.get() as number;
  }

  summaries(): DistinctIdSummary[] {
    return [...this.#summaries].map(([distinctId, s]) => ({
      distinctId,
      events: s.events,
      rawEvents: s.raw,
      firstTime: s.first,
      lastTime: s.last,
    }));
  }

  getProfile(distinctId: string): Profile | undefined {
    const row = this.#statements.getProfile.get(distinctId);
    return row && { properties: JSON.parse(row.properties) as Record<string, unknown>, lastSeen: row.lastSeen };
  }

  putProfile(distinctId: string, profile: Profile): void {
    this.#statements.putProfile.run(distinctId, JSON.stringify(profile.properties), profile.lastSeen);
  }

  deleteProfile(distinctId: string): void {
    this.#statements.deleteProfile.run(distinctId);
  }

  getGroup(groupKey: string, groupId: string): Record<string, unknown> | undefined {
    const row = this.#statements.getGroup.get(groupKey, groupId);
    return row && (JSON.parse(row.properties) as Record<string, unknown>);
  }

  putGroup(groupKey: string, groupId: string, properties: Record<string, unknown>): void {
    this.#statements.putGroup.run(groupKey, groupId, JSON.stringify(properties));
  }

  deleteGroup(groupKey: string, groupId: string): void {
    this.#statements.deleteGroup.run(groupKey, groupId);
  }

  /** Runs `fn` in one transaction (profile batches). */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }

  /** Forgets every event, link and profile. */
  reset(): void {
    this.#db.exec('DELETE FROM events; DELETE FROM devices; DELETE FROM users; DELETE FROM profiles; DELETE FROM group_profiles;');
    this.graph.clear();
    this.#summaries.clear();
    this.#nextSeq = 1;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

function prepareStatements(db: Database.Database) {
  return {
    insertEvent: db.prepare(
      'INSERT INTO events (seq, event, time, insert_id, device_id, user_id, distinct_id, endpoint, received_at, copy, properties) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    // The stored-key duplicate probe (contract §4): same event, distinct_id, time and $insert_id.
    findCopy: db.prepare('SELECT 1 FROM events WHERE distinct_id = ? AND time = ? AND event = ? AND insert_id = ? LIMIT 1').pluck(),
    insertDevice: db.prepare('INSERT INTO devices (device_id, user_id, first_seq, link_seq) VALUES (?, NULL, ?, NULL)'),
    // First write wins: a link is only ever written where none exists (contract §5.5).
    linkDevice: db.prepare('UPDATE devices SET user_id = ?, link_seq = ? WHERE device_id = ? AND user_id IS NULL'),
    insertUser: db.prepare('INSERT INTO users (user_id, first_seq) VALUES (?, ?)'),
    eventsOf: db.prepare<[string], StoredEvent>(`SELECT ${EVENT_COLUMNS} FROM events WHERE distinct_id = ? ORDER BY time, seq`),
    countEvents: db.prepare('SELECT count(*) FROM events').pluck(),
    allEvents: db.prepare<[], StoredEvent>(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY seq`),
    getProfile: db.prepare<[string], { properties: string; lastSeen: number | null }>(
      'SELECT properties, last_seen AS lastSeen FROM profiles WHERE distinct_id = ?',
    ),
    putProfile: db.prepare('INSERT OR REPLACE INTO profiles (distinct_id, properties, last_seen) VALUES (?, ?, ?)'),
    deleteProfile: db.prepare('DELETE FROM profiles WHERE distinct_id = ?'),
    getGroup: db.prepare<[string, string], { properties: string }>(
      'SELECT properties FROM group_profiles WHERE group_key = ? AND group_id = ?',
    ),
    putGroup: db.prepare('INSERT OR REPLACE INTO group_profiles (group_key, group_id, properties) VALUES (?, ?, ?)'),
    deleteGroup: db.prepare('DELETE FROM group_profiles WHERE group_key = ? AND group_id = ?'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

interface MutableSummary {
  events: number;
  raw: number;
  first: number;
  last: number;
}
