// `runDoctor`: the doctor (src/doctor/: Mixpanel's QA list as checks over recorded data) run on
// whatever holds the data: a collector's database or store, a running collector, an export file.
import { diagnose } from '../doctor/checks.js';
import { DoctorError } from '../doctor/errors.js';
import { examplesOf, type DoctorOptions } from '../doctor/options.js';
import type { DoctorReport } from '../doctor/report.js';
import { fetchReport, readNdjsonFile, readRecords } from '../doctor/sources.js';
import type { Collector } from './server.js';

/** What the doctor reads: exactly one of these. */
export type DoctorSource =
  /** A collector's SQLite file (`idstitch collector --db`), read-only: fine while the collector runs. */
  | { readonly db: string }
  /** An NDJSON export (Mixpanel's raw export format) or a JSON array of `/import` or `/engage` records; gzip is fine. */
  | { readonly ndjson: string }
  /** A running collector, through its `GET /api/doctor`. `token` when it was started with one. */
  | { readonly url: string; readonly token?: string }
  /** A collector running in this process (`startCollector`). */
  | { readonly collector: Pick<Collector, 'store' | 'config'> }
  /** Records already in memory, shaped as in an export, in ingestion order. */
  | { readonly records: Iterable<unknown> };

const SOURCE_KEYS = ['db', 'ndjson', 'url', 'collector', 'records'] as const;

/**
 * Checks events and profiles against the QA list of Mixpanel's "Identifying Users (Simplified)" guide:
 * pre- and post-login events on one user, devices shared by two users (and the events the first-link
 * rule cost), anonymous profiles, users never identified, deny-listed and suspicious ids, `$insert_id`s.
 * Problems in the data are the report; it rejects when the source cannot be read (a `DoctorError` with a
 * `code`), or when a collector source needs better-sqlite3 and it is not installed.
 *
 * @example
 * const report = await runDoctor({ db: './idstitch.sqlite' });
 * if (report.status === 'fail') console.log(formatDoctorReport(report));
 */
export async function runDoctor(source: DoctorSource, options: DoctorOptions = {}): Promise<DoctorReport> {
  const examples = examplesOf(options);
  const given =
    source !== null && typeof source === 'object'
      ? SOURCE_KEYS.filter((key) => (source as Record<string, unknown>)[key] !== undefined)
      : [];
  if (given.length !== 1) {
    throw new DoctorError(
      'IDSTITCH_DOCTOR_INVALID_ARGUMENT',
      `give runDoctor exactly one source of ${SOURCE_KEYS.join(', ')}${given.length > 1 ? ` (got ${given.join(' and ')})` : ''}`,
    );
  }
  const any = source as {
    db?: unknown;
    ndjson?: unknown;
    url?: unknown;
    token?: unknown;
    collector?: Pick<Collector, 'store' | 'config'>;
    records?: unknown;
  };
  switch (given[0]!) {
    case 'url': {
      if (typeof any.url !== 'string' || !/^https?:\/\/[^/]/.test(any.url))
        throw new DoctorError(
          'IDSTITCH_DOCTOR_INVALID_ARGUMENT',
          `url must be a collector's http(s) address, got ${JSON.stringify(any.url)}`,
        );
      if (any.token !== undefined && typeof any.token !== 'string')
        throw new DoctorError('IDSTITCH_DOCTOR_INVALID_ARGUMENT', 'token must be a string');
      return fetchReport(any.url, any.token, examples);
    }
    case 'records': {
      const records = any.records as Iterable<unknown>;
      if (typeof records[Symbol.iterator] !== 'function')
        throw new DoctorError('IDSTITCH_DOCTOR_INVALID_ARGUMENT', 'records must be iterable (an array of export lines)');
      return diagnose(readRecords(records, 'records'), examples);
    }
    case 'ndjson':
      return diagnose(await readNdjsonFile(path(any.ndjson, 'ndjson')), examples);
    default: {
      // better-sqlite3 is an optional peer: only the collector sources load it.
      const { readCollectorDatabase, readCollectorStore } = await import('./doctor-source.js');
      const input =
        any.db !== undefined
          ? readCollectorDatabase(path(any.db, 'db'))
          : readCollectorStore(any.collector!.store, any.collector!.config.storage);
      try {
        return diagnose(input, examples);
      } finally {
        input.close();
      }
    }
  }
}

function path(value: unknown, key: string): string {
  if (typeof value !== 'string' || value === '')
    throw new DoctorError('IDSTITCH_DOCTOR_INVALID_ARGUMENT', `${key} must be a file path, got ${JSON.stringify(value)}`);
  return value;
}
