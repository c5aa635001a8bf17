// `idstitch doctor` as a process: the report as text or JSON, exit codes (0 nothing fails, 1 a check
// fails, 2 it cannot run), the default source (./idstitch.sqlite), and terminal-safe output.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/collector/index.js';
import { collector, event, importEvents } from '../collector/helpers.js';
import { runCli, runCliIn } from './run-cli.js';

const EXPORT = 'test/fixtures/doctor/export.ndjson';
const dir = mkdtempSync(join(tmpdir(), 'idstitch-doctor-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('idstitch doctor', () => {
  it('prints the report for a terminal and exits 1 when a check fails', async () => {
    const result = await runCli('doctor', '--ndjson', EXPORT);
    expect([result.code, result.stderr]).toEqual([1, '']);
    expect(result.stdout).toMatch(
      /^idstitch doctor · NDJSON test\/fixtures\/doctor\/export\.ndjson\n7 events · 4 users · 3 devices · 1 profile\n\n/,
    );
    expect(result.stdout).toContain('✗ fail  No device is used by two users (the device id is reset on logout): 1 device');
    expect(result.stdout).toContain('! warn  Every user has an identified event (one carrying $device_id and $user_id): 1 user');
    expect(result.stdout).toContain('        - $device:D1: linked to U1 (first link wins), then used by U2 without a device reset');
    expect(result.stdout).toContain(
      '2026-01-05 13:00:00.000 UTC  "Viewed Pricing"  $device_id D1  $insert_id e3  (anonymous before U2 logged in; attributed to U1)',
    );
    expect(result.stdout.endsWith('Result: 3 fail, 4 warn, 0 pass.\n')).toBe(true);
  });

  it('prints JSON with --json that parses to the report, and honours --examples', async () => {
    const result = await runCli('doctor', '--ndjson', EXPORT, '--json', '--examples', '0');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.status).toBe('fail');
    expect(report.checks.map((c) => c.id)).toEqual([
      'pre-post-login',
      'shared-devices',
      'anonymous-profiles',
      'unidentified-users',
      'denylisted-ids',
      'suspicious-ids',
      'insert-ids',
    ]);
    expect(report.checks.every((c) => c.examples.length === 0)).toBe(true);
    expect(report.checks.find((c) => c.id === 'denylisted-ids')).toMatchObject({ status: 'fail', count: 1, unit: 'record' });
  });

  it('exits 0 when nothing fails, warnings included', async () => {
    const lines = [
      { event: 'Viewed Home', properties: { time: 1767614400, $insert_id: 'a', $device_id: 'D1' } },
      { event: 'Signed Up', properties: { time: 1767614460, $insert_id: 'b', $device_id: 'D1', $user_id: 'U1' } },
      { event: 'Invoice Paid', properties: { time: 1767614500, $insert_id: 'c', distinct_id: 'U9' } }, // a warning: U9 is never identified
    ];
    const file = join(dir, 'warn.ndjson');
    writeFileSync(file, lines.map((line) => JSON.stringify(line)).join('\n'));
    const result = await runCli('doctor', '--ndjson', file, '--json');
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as DoctorReport).checks.map((c) => c.status)).toEqual([
      'pass',
      'pass',
      'pass',
      'warn',
      'pass',
      'pass',
      'pass',
    ]);
  });

  it('with no source and no ./idstitch.sqlite, says how to reach a collector kept in memory (--url) instead of failing on the file', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'idstitch-doctor-empty-'));
    try {
      const result = await runCliIn(empty, 'doctor');
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /there is no \.\/idstitch\.sqlite here(: give a collector's file with --db, a running collector with --url|, but a collector answers at http:\/\/127\.0\.0\.1:7600: run 'idstitch doctor --url http:\/\/127\.0\.0\.1:7600')/,
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('reads ./idstitch.sqlite when no source is given, the file `idstitch collector` writes by default', async () => {
    const started = await collector({ storage: join(dir, 'idstitch.sqlite') });
    await importEvents(started.url, [event('Viewed Home', { device: 'd1' }), event('Signed Up', { device: 'd1', user: 'u1' })]);
    const result = await runCliIn(dir, 'doctor');
    expect([result.code, result.stderr]).toEqual([0, '']);
    expect(result.stdout).toContain('idstitch doctor · collector database ./idstitch.sqlite\n2 events · 1 user · 1 device · 0 profiles');
    expect(result.stdout).toContain('Result: 0 fail, 0 warn, 7 pass.');
  });

  it('exits 2 with a message, and prints no report, when the source cannot be read', async () => {
    const cases: Array<[string[], string]> = [
      [['doctor', '--db', join(dir, 'missing.sqlite')], 'no such file'],
      [['doctor', '--ndjson', 'package.json'], 'none of its'],
      [['doctor', '--db', EXPORT], 'is not an idstitch collector database (file is not a database)'],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(...args)));
    results.forEach((result, index) => {
      expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
      expect(result.stderr).toMatch(/^idstitch doctor: /);
      expect(result.stderr).toContain(cases[index]![1]);
    });
    const offline = await runCli('doctor', '--url', 'http://127.0.0.1:9');
    expect([offline.code, offline.stdout]).toEqual([2, '']);
    expect(offline.stderr).toContain('no collector answered');
  });

  it('asks for the token of a collector started with one, and reads it with --token', async () => {
    const started = await collector({ token: 'secret-token' });
    const denied = await runCli('doctor', '--url', started.url);
    expect([denied.code, denied.stderr]).toEqual([2, `idstitch doctor: ${started.url}: the collector wants its token (--token)\n`]);
    const allowed = await runCli('doctor', '--url', started.url, '--token', 'secret-token', '--json');
    expect(allowed.code).toBe(0);
    expect((JSON.parse(allowed.stdout) as DoctorReport).source).toBe('collector store (in memory)');
  });

  it('shows control characters and bidirectional overrides in ids and event names escaped, never raw', async () => {
    const file = join(dir, 'hostile.ndjson');
    const name = 'Paid\u001b[2J\u001b[31m\u202Eevil';
    writeFileSync(
      file,
      JSON.stringify({ event: name, properties: { time: 1767614400, $insert_id: 'h', $device_id: 'D\u0007', $user_id: 'null' } }) + '\n',
    );
    const result = await runCli('doctor', '--ndjson', file);
    expect(result.code).toBe(1);
    for (const raw of ['\u0007', '\u001b', '\u202e']) expect(result.stdout).not.toContain(raw);
    // JSON.stringify escapes C0 controls in the name; bidirectional overrides and the ids are escaped by the formatter.
    expect(result.stdout).toContain('"Paid\\u001b[2J\\u001b[31m\\u{202e}evil"  $device_id D\\u{7}  $user_id null');
  });
});
