// The terminal form of the report: one block per check, a pointer to the rest when examples were cut,
// skipped records said, and data from events never able to drive the terminal.
import { describe, expect, it } from 'vitest';
import { formatDoctorReport, runDoctor } from '../../src/collector/index.js';
import { clean } from '../../src/doctor/format.js';

const T = Date.UTC(2026, 0, 5, 12);

describe('formatDoctorReport', () => {
  it('prints each check with its status, count, summary and examples, and says when examples were cut', async () => {
    const records = [1, 2, 3].map((n) => ({
      event: 'Paid',
      properties: { time: T + n, $insert_id: `i${n}`, distinct_id: `user${n}@example.com` },
    }));
    const text = formatDoctorReport(await runDoctor({ records: [...records, 'not a record'] }, { examples: 2 }));
    expect(text.split('\n').slice(0, 2)).toEqual([
      'idstitch doctor · records',
      '3 events · 3 users · 0 devices · 0 profiles · 1 record skipped (neither an event nor a profile)',
    ]);
    expect(text).toContain('! warn  User ids are stable database ids, not e-mails or values converted by mistake: 3 ids\n');
    expect(text).toContain('        - user1@example.com: "user1@example.com" ($user_id) looks like an e-mail address');
    expect(text).toContain(
      '            2026-01-05 12:00:00.001 UTC  "Paid"  $user_id user1@example.com  $insert_id i1  ($user_id "user1@example.com")\n',
    );
    expect(text).not.toContain('user3@example.com:');
    expect(text).toContain('        … and 1 more (--examples N, or --json)\n');
    expect(text).toContain('✓ pass  No device is used by two users (the device id is reset on logout)\n');
    expect(text.endsWith('\nResult: 0 fail, 2 warn, 5 pass.\n')).toBe(true);
  });

  it('shows control characters and bidirectional overrides escaped', () => {
    expect(clean('a\u001b[31mb\u0000c\u009bd\u202ee\u2066f')).toBe('a\\u{1b}[31mb\\u{0}c\\u{9b}d\\u{202e}e\\u{2066}f');
    expect(clean('plain ü → ✓')).toBe('plain ü → ✓');
  });
});
