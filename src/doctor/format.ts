import type { CheckStatus, DoctorReport, ExampleEvent } from './report.js';

const MARK: Readonly<Record<CheckStatus, string>> = { pass: '✓ pass', warn: '! warn', fail: '✗ fail' };
const INDENT = '        ';

/**
 * The report for a terminal: one block per check (status, title, count, summary, examples with their
 * events), then a one-line verdict. Ids and event names come from whoever sent the events, so control
 * characters are shown escaped: a hostile name cannot move the cursor or recolour the terminal.
 */
export function formatDoctorReport(report: DoctorReport): string {
  const { totals } = report;
  const out: string[] = [
    `idstitch doctor · ${clean(report.source)}`,
    `${count(totals.events, 'event')} · ${count(totals.users, 'user')} · ${count(totals.devices, 'device')} · ${count(totals.profiles, 'profile')}` +
      (totals.skipped > 0 ? ` · ${count(totals.skipped, 'record')} skipped (neither an event nor a profile)` : ''),
    '',
  ];
  for (const check of report.checks) {
    out.push(`${MARK[check.status]}  ${check.title}${check.count > 0 ? `: ${count(check.count, check.unit)}` : ''}`);
    out.push(`${INDENT}${clean(check.summary)}`);
    for (const found of check.examples) {
      out.push(`${INDENT}- ${clean(found.subject)}: ${clean(found.detail)}`);
      for (const event of found.events) out.push(`${INDENT}    ${eventLine(event)}`);
    }
    const more = check.count - check.examples.length;
    if (check.examples.length > 0 && more > 0 && check.unit !== 'record' && check.unit !== 'event')
      out.push(`${INDENT}… and ${more} more (--examples N, or --json)`);
  }
  const tally = (['fail', 'warn', 'pass'] as const).map(
    (status) => `${report.checks.filter((check) => check.status === status).length} ${status}`,
  );
  out.push('', `Result: ${tally.join(', ')}.`);
  return out.join('\n') + '\n';
}

function eventLine(event: ExampleEvent): string {
  const time = event.time === null ? '(no time)' : new Date(event.time).toISOString().replace('T', ' ').replace('Z', ' UTC');
  const ids = [
    event.device_id === null ? '' : `$device_id ${event.device_id}`,
    event.user_id === null ? '' : `$user_id ${event.user_id}`,
    event.insert_id === null ? '' : `$insert_id ${event.insert_id}`,
  ].filter(Boolean);
  return clean(`${time}  ${JSON.stringify(event.event)}  ${ids.join('  ')}  (${event.note})`);
}

function count(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

// Control characters are exactly what this matches; the lint rule guards against matching them by accident.
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Control characters (C0, DEL, C1) and bidirectional overrides as `\u{…}`: escapes and reordering in the data are shown, not obeyed. */
export function clean(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, (character) => `\\u{${character.charCodeAt(0).toString(16)}}`);
}
