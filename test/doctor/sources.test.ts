// Where the doctor reads from: an NDJSON export (plain or gzip), a JSON array (an /import or /engage
// body), a collector's SQLite file while the collector runs, a collector in this process; and the errors,
// each with its code, for what it cannot read.
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { runDoctor, type CheckId, type DoctorReport } from '../../src/collector/index.js';
import { collector, event, importEvents, send } from '../collector/helpers.js';

const EXPORT = 'test/fixtures/doctor/export.ndjson';
const dir = mkdtempSync(join(tmpdir(), 'idstitch-doctor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function counts(report: DoctorReport): Record<CheckId, [string, number]> {
  return Object.fromEntries(report.checks.map((c) => [c.id, [c.status, c.count]])) as Record<CheckId, [string, number]>;
}

/** What the fixture export holds (see the file): one device shared without a reset, a placeholder id, an e-mail id, … */
const EXPORT_COUNTS: Record<CheckId, [string, number]> = {
  'pre-post-login': ['fail', 1],
  'shared-devices': ['fail', 1],
  'anonymous-profiles': ['warn', 1],
  'unidentified-users': ['warn', 1],
  'denylisted-ids': ['fail', 1],
  'suspicious-ids': ['warn', 1],
  'insert-ids': ['warn', 1],
};

function write(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('NDJSON and JSON files', () => {
  it("reads Mixpanel's raw export: seconds, resolved distinct_ids with $distinct_id_before_identity, exported profiles", async () => {
    const report = await runDoctor({ ndjson: EXPORT });
    expect(report.source).toBe(`NDJSON ${EXPORT}`);
    expect(report.totals).toEqual({ events: 7, users: 4, devices: 3, profiles: 1, skipped: 0 });
    expect(counts(report)).toEqual(EXPORT_COUNTS);
    const shared = report.checks.find((c) => c.id === 'shared-devices')!;
    // Exported as distinct_id U1 (resolved), judged by what was sent: an anonymous event on D1.
    expect(shared.examples[0]!.events[0]).toMatchObject({
      event: 'Viewed Pricing',
      time: 1767618000_000,
      device_id: 'D1',
      user_id: null,
      distinct_id: '$device:D1',
      insert_id: 'e3',
    });
  });

  it('reads the same export gzip-compressed', async () => {
    const report = await runDoctor({ ndjson: write('export.ndjson.gz', gzipSync(readFileSync(EXPORT))) });
    expect(counts(report)).toEqual(EXPORT_COUNTS);
  });

  it('reads a JSON array (an /import body, pretty-printed, and /engage updates in it)', async () => {
    const body = [
      { event: 'Viewed Home', properties: { time: 1767614400000, $insert_id: 'a', $device_id: 'D1' } },
      { event: 'User Identified', properties: { time: 1767614401000, $insert_id: 'b', $device_id: 'D1', $user_id: 'U1' } },
      { $token: 't', $distinct_id: '$device:D1', $set: { plan: 'trial' } },
    ];
    const report = await runDoctor({ ndjson: write('import.json', JSON.stringify(body, null, 2)) });
    expect(report.totals).toMatchObject({ events: 2, users: 1, devices: 1, profiles: 1 });
    expect(counts(report)['anonymous-profiles']).toEqual(['fail', 1]);
    expect(report.checks.find((c) => c.id === 'pre-post-login')!.facts).toMatchObject({ stitched_users: 1 });
  });

  it('takes mp_processing_time_ms as the ingestion order when every event has it, so first-link-wins follows it', async () => {
    const line = (user: string, time: number, processed?: number) =>
      JSON.stringify({
        event: 'Logged In',
        properties: {
          time,
          $insert_id: `i-${user}`,
          $device_id: 'D',
          $user_id: user,
          ...(processed === undefined ? {} : { mp_processing_time_ms: processed }),
        },
      });
    // In time order U1 logs in first, but U2's event reached Mixpanel first.
    const processed = await runDoctor({
      ndjson: write('processed.ndjson', `${line('U1', 1767614400, 2000)}\n${line('U2', 1767614460, 1000)}\n`),
    });
    expect(processed.checks.find((c) => c.id === 'shared-devices')!.examples[0]!.facts).toMatchObject({
      linked_user: 'U2',
      other_users: ['U1'],
    });
    const fileOrder = await runDoctor({ ndjson: write('file-order.ndjson', `${line('U1', 1767614400)}\n${line('U2', 1767614460)}\n`) });
    expect(fileOrder.checks.find((c) => c.id === 'shared-devices')!.examples[0]!.facts).toMatchObject({
      linked_user: 'U1',
      other_users: ['U2'],
    });
  });

  it('skips lines that are not JSON or not a record, and counts them', async () => {
    const text = `${readFileSync(EXPORT, 'utf8')}not json\n\n{"something":"else"}\n`;
    const report = await runDoctor({ ndjson: write('noisy.ndjson', text) });
    expect(report.totals.skipped).toBe(2);
    expect(counts(report)).toEqual(EXPORT_COUNTS);
  });

  it('refuses what it cannot read, with IDSTITCH_DOCTOR_UNREADABLE', async () => {
    const cases: Array<[string, RegExp]> = [
      [join(dir, 'missing.ndjson'), /no such file/],
      [write('not-records.ndjson', '{"a":1}\n{"b":2}\n'), /none of its 2 records is a Mixpanel event/],
      [write('broken.json', '[{"event": "x",'), /starts like a JSON array but is not valid JSON/],
      [write('truncated.gz', gzipSync(readFileSync(EXPORT)).subarray(0, 40)), /unexpected end of file/],
    ];
    for (const [path, message] of cases) {
      await expect(runDoctor({ ndjson: path })).rejects.toMatchObject({
        name: 'DoctorError',
        code: 'IDSTITCH_DOCTOR_UNREADABLE',
        message: expect.stringMatching(message),
      });
    }
  });
});

describe("a collector's store", () => {
  it('reads a SQLite file while its collector runs, profiles included, and leaves the file as it was', async () => {
    const file = join(dir, 'running.sqlite');
    const started = await collector({ storage: file });
    await importEvents(started.url, [
      event('Viewed Home', { device: 'd1' }),
      event('Signed Up', { device: 'd1', user: 'u1' }),
      event('Logged In', { device: 'd1', user: 'u2' }),
    ]);
    await send(started.url, '/engage', {
      body: JSON.stringify([{ $distinct_id: '$device:orphan', $set: { a: 1 } }]),
      headers: { 'content-type': 'application/json' },
    });
    const report = await runDoctor({ db: file });
    expect(report.source).toBe(`collector database ${file}`);
    expect(report.totals).toMatchObject({ events: 3, users: 2, devices: 1, profiles: 1 });
    expect(counts(report)['shared-devices']).toEqual(['fail', 1]);
    // A profile for a device no event names: only a full read of the profiles table sees it.
    expect(report.checks.find((c) => c.id === 'anonymous-profiles')!.examples.map((e) => e.subject)).toEqual(['$device:orphan']);
    // The collector still ingests after the doctor's read-only connection closed.
    expect((await importEvents(started.url, [event('Viewed Home', { device: 'd2' })])).status).toBe(200);
    expect((await runDoctor({ db: file })).totals.events).toBe(4);
  });

  it('reads a collector in this process: a file-backed one through the file, an in-memory one through its store', async () => {
    const memory = await collector();
    await importEvents(memory.url, [event('Viewed Home', { device: 'd1' }), event('Signed Up', { device: 'd1', user: 'u1' })]);
    await send(memory.url, '/engage', {
      body: JSON.stringify([
        { $distinct_id: '$device:d1', $set: { a: 1 } },
        { $distinct_id: 'u1', $set: { a: 1 } },
      ]),
      headers: { 'content-type': 'application/json' },
    });
    const report = await runDoctor({ collector: memory });
    expect(report.source).toBe('collector store (in memory)');
    expect(report.totals).toMatchObject({ events: 2, users: 1, devices: 1, profiles: 2 });
    expect(counts(report)['anonymous-profiles']).toEqual(['fail', 1]);
  });

  it('refuses a missing file without creating it, and a SQLite file that is not a collector', async () => {
    const missing = join(dir, 'nothing.sqlite');
    await expect(runDoctor({ db: missing })).rejects.toMatchObject({
      code: 'IDSTITCH_DOCTOR_UNREADABLE',
      message: expect.stringContaining('no such file'),
    });
    expect(existsSync(missing)).toBe(false);
    const other = join(dir, 'other.sqlite');
    const db = new Database(other);
    db.exec('CREATE TABLE notes (text TEXT)');
    db.close();
    await expect(runDoctor({ db: other })).rejects.toMatchObject({
      code: 'IDSTITCH_DOCTOR_UNREADABLE',
      message: expect.stringContaining('is not an idstitch collector database'),
    });
    await expect(runDoctor({ db: EXPORT })).rejects.toMatchObject({ code: 'IDSTITCH_DOCTOR_UNREADABLE' });
  });
});
