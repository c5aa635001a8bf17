// Each check of the doctor on small hand-built streams, shaped as Mixpanel exports them: every mistake
// is found with its count, and a clean stream passes.
import { describe, expect, it } from 'vitest';
import { DoctorError, runDoctor, type CheckId, type DoctorCheck, type DoctorReport } from '../../src/collector/index.js';

const START = Date.UTC(2026, 0, 5, 12); // ms
let clock = START;
let serial = 0;

/** An event as an export line: time in ms, a fresh $insert_id unless given, the ids asked for. */
function ev(
  name: string,
  ids: { device?: string; user?: string; distinct?: string; time?: number; insert?: string | null } = {},
): Record<string, unknown> {
  serial++;
  clock += 1000;
  return {
    event: name,
    properties: {
      time: ids.time ?? clock,
      ...(ids.insert === null ? {} : { $insert_id: ids.insert ?? `ins-${serial}` }),
      ...(ids.distinct !== undefined ? { distinct_id: ids.distinct } : {}),
      ...(ids.device !== undefined ? { $device_id: ids.device } : {}),
      ...(ids.user !== undefined ? { $user_id: ids.user } : {}),
    },
  };
}

function profile(distinctId: string, set: Record<string, unknown> = { plan: 'trial' }): Record<string, unknown> {
  return { $token: 't', $distinct_id: distinctId, $set: set };
}

function checkOf(report: DoctorReport, id: CheckId): DoctorCheck {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id}`);
  return found;
}

/** `[id, status, count]` for every check. */
function verdicts(report: DoctorReport): Array<[CheckId, string, number]> {
  return report.checks.map((c) => [c.id, c.status, c.count]);
}

/** A proper flow: browse, sign up, use, log out (new device), a second person signs up; profiles on user ids. */
function cleanStream(): unknown[] {
  return [
    ev('Viewed Home', { device: 'D1' }),
    ev('Viewed Pricing', { device: 'D1' }),
    ev('User Identified', { device: 'D1', user: 'U1' }),
    ev('Signed Up', { device: 'D1', user: 'U1' }),
    ev('Logged Out', { device: 'D1', user: 'U1' }),
    ev('Viewed Home', { device: 'D2' }),
    ev('User Identified', { device: 'D2', user: 'U2' }),
    ev('Viewed Pricing', { device: 'D2', user: 'U2' }),
    profile('U1'),
    profile('U2'),
  ];
}

describe('runDoctor on records', () => {
  it('passes every check on a clean stream, and says how many users had anonymous events stitched', async () => {
    const report = await runDoctor({ records: cleanStream() });
    expect(report.status).toBe('pass');
    expect(report.checks.map((c) => c.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'pass']);
    expect(report.totals).toEqual({ events: 8, users: 2, devices: 2, profiles: 2, skipped: 0 });
    expect(checkOf(report, 'pre-post-login').facts).toEqual({ identified_users: 2, stitched_users: 2, misattributed_events: 0 });
    expect(report.checks.every((c) => c.examples.length === 0)).toBe(true);
  });

  it('finds a device used by a second user without a reset, with the anonymous events the first link cost and the refused links', async () => {
    const records = [
      ev('Viewed Home', { device: 'D1', insert: 'a-before-u1' }),
      ev('User Identified', { device: 'D1', user: 'U1' }),
      // U1's session ends without a reset; the next person browses on the same device id.
      ev('Viewed Home', { device: 'D1', insert: 'a-before-u2-1' }),
      ev('Viewed Pricing', { device: 'D1', insert: 'a-before-u2-2' }),
      ev('User Identified', { device: 'D1', user: 'U2', insert: 'refused-1' }),
      ev('Purchased', { device: 'D1', user: 'U2', insert: 'refused-2' }),
      // After the last login: nobody's, never counted.
      ev('Viewed Home', { device: 'D1', insert: 'a-after' }),
    ];
    const report = await runDoctor({ records });
    const shared = checkOf(report, 'shared-devices');
    expect([shared.status, shared.count]).toEqual(['fail', 1]);
    expect(shared.facts).toEqual({ misattributed_events: 2, refused_links: 2 });
    expect(shared.examples[0]).toMatchObject({
      subject: '$device:D1',
      facts: { linked_user: 'U1', other_users: ['U2'], misattributed_events: 2, refused_links: 2 },
    });
    expect(shared.examples[0]!.events.map((e) => e.insert_id)).toEqual(['a-before-u2-1', 'a-before-u2-2', 'refused-1', 'refused-2']);
    expect(shared.examples[0]!.events[0]!.note).toBe('anonymous before U2 logged in; attributed to U1');

    const login = checkOf(report, 'pre-post-login');
    expect([login.status, login.count]).toEqual(['fail', 1]);
    expect(login.examples[0]).toMatchObject({
      subject: 'U2',
      facts: { devices: ['D1'], linked_to: ['U1'], misattributed_events: 2, refused_links: 2 },
    });
    expect(report.status).toBe('fail');
  });

  it('follows ingestion order for the first link, not event time (a back-dated second login still loses)', async () => {
    const early = START - 60_000;
    const report = await runDoctor({
      records: [ev('User Identified', { device: 'D1', user: 'U1' }), ev('User Identified', { device: 'D1', user: 'U2', time: early })],
    });
    expect(checkOf(report, 'shared-devices').examples[0]!.facts).toMatchObject({
      linked_user: 'U1',
      other_users: ['U2'],
      refused_links: 1,
    });
  });

  it('ignores identity verbs for linking: a user seen with a device only on $identify is unidentified', async () => {
    const report = await runDoctor({
      records: [ev('Viewed Home', { device: 'D1' }), ev('$identify', { device: 'D1', user: 'U1' }), ev('Purchased', { user: 'U1' })],
    });
    const unidentified = checkOf(report, 'unidentified-users');
    expect([unidentified.status, unidentified.count]).toEqual(['warn', 1]);
    expect(unidentified.examples[0]).toMatchObject({ subject: 'U1', facts: { events: 2, identity_verbs_only: true } });
    expect(checkOf(report, 'shared-devices').count).toBe(0);
  });

  it('warns when users log in but none has anonymous events linked (a device id that changes at login)', async () => {
    const records = [
      ev('Viewed Home', { device: 'anon-1' }),
      ev('User Identified', { device: 'session-1', user: 'U1' }),
      ev('Viewed Home', { device: 'anon-2' }),
      ev('User Identified', { device: 'session-2', user: 'U2' }),
    ];
    const login = checkOf(await runDoctor({ records }), 'pre-post-login');
    expect([login.status, login.count]).toEqual(['warn', 2]);
    expect(login.examples.map((e) => e.subject)).toEqual(['U1', 'U2']);
    // Without anonymous traffic at all (an API that is always logged in) there is nothing to say.
    const apiOnly = checkOf(await runDoctor({ records: [ev('Called API', { device: 'k1', user: 'U1' })] }), 'pre-post-login');
    expect(apiOnly.status).toBe('pass');
  });

  it('finds profiles on anonymous devices: a linked device duplicates the user (fail), an unlinked one is warned about', async () => {
    const linked = await runDoctor({
      records: [
        ev('Viewed Home', { device: 'D1' }),
        profile('$device:D1', { plan: 'trial', name: 'A' }),
        ev('User Identified', { device: 'D1', user: 'U1' }),
        profile('U1'),
      ],
    });
    const check = checkOf(linked, 'anonymous-profiles');
    expect([check.status, check.count, check.facts]).toEqual(['fail', 1, { duplicate_profiles: 1 }]);
    expect(check.examples[0]).toMatchObject({ subject: '$device:D1', facts: { linked_user: 'U1', properties: ['name', 'plan'] } });
    expect(check.examples[0]!.detail).toContain("U1's profile lacks them");

    const anonymous = checkOf(
      await runDoctor({ records: [ev('Viewed Home', { device: 'D9' }), profile('$device:D9')] }),
      'anonymous-profiles',
    );
    expect([anonymous.status, anonymous.count]).toEqual(['warn', 1]);
    expect(anonymous.examples[0]!.facts.linked_user).toBeNull();
  });

  it('finds a profile keyed by a raw device id, which Mixpanel reads as a phantom user', async () => {
    const report = await runDoctor({ records: [ev('Viewed Home', { device: 'D5' }), profile('D5')] });
    expect(checkOf(report, 'anonymous-profiles')).toMatchObject({ status: 'fail', count: 1, examples: [{ subject: 'D5' }] });
  });

  it('applies profile updates in order: $unset and $delete change what the check sees', async () => {
    const records = [
      ev('Viewed Home', { device: 'D1' }),
      profile('$device:D1', { a: 1, b: 2 }),
      { $distinct_id: '$device:D1', $unset: ['a'] },
      profile('$device:D2'),
      { $distinct_id: '$device:D2', $delete: '' },
    ];
    const check = checkOf(await runDoctor({ records }), 'anonymous-profiles');
    expect(check.count).toBe(1);
    expect(check.examples[0]!.facts.properties).toEqual(['b']);
  });

  it('finds users with events but no identified event', async () => {
    const records = [
      ev('Invoice Paid', { distinct: 'U7' }),
      ev('Invoice Paid', { user: 'U7' }),
      ev('Viewed Home', { device: 'D1' }),
      ev('User Identified', { device: 'D1', user: 'U1' }),
    ];
    const check = checkOf(await runDoctor({ records }), 'unidentified-users');
    expect([check.status, check.count]).toEqual(['warn', 1]);
    expect(check.examples[0]).toMatchObject({ subject: 'U7', facts: { events: 2, identity_verbs_only: false } });
    expect(check.examples[0]!.events.map((e) => e.note)).toEqual(['no $device_id', 'no $device_id']);
  });

  it('finds deny-listed ids in any case, as $user_id, $device_id or a profile id, and counts the records', async () => {
    const records = [
      ev('Purchased', { device: 'D1', user: 'undefined' }),
      ev('Purchased', { device: 'D2', user: 'Undefined' }),
      ev('Viewed Home', { device: 'null' }),
      ev('Viewed Home', { device: 'D3', user: 'U3' }),
      profile('anonymous'),
    ];
    const report = await runDoctor({ records });
    const check = checkOf(report, 'denylisted-ids');
    expect([check.status, check.count]).toEqual(['fail', 4]);
    expect(check.examples.map((e) => [e.subject, e.facts.fields])).toEqual([
      ['undefined', ['$user_id']],
      ['Undefined', ['$user_id']],
      ['null', ['$device_id']],
      ['anonymous', ['profile']],
    ]);
    expect(check.summary).toContain('"undefined"');
  });

  it('reports how many devices a deny-listed user id merged into one "user"', async () => {
    const records = [ev('Purchased', { device: 'D1', user: 'null' }), ev('Purchased', { device: 'D2', user: 'null' })];
    const check = checkOf(await runDoctor({ records }), 'denylisted-ids');
    expect(check.examples[0]).toMatchObject({ subject: 'null', facts: { events: 2, linked_devices: 2 } });
    expect(check.examples[0]!.detail).toContain('linking 2 devices into one "user"');
  });

  it('finds suspicious user ids: an e-mail, a stringified object, whitespace, a $device: prefix, a device id sent as a user', async () => {
    const records = [
      ev('Signed Up', { device: 'D1', user: 'ada@example.com' }),
      ev('Signed Up', { device: 'D2', user: '[object Object]' }),
      ev('Signed Up', { device: 'D3', user: ' 42' }),
      ev('Signed Up', { device: 'D4', user: '$device:D4' }),
      ev('Viewed Home', { device: 'c0ffee00-0000-4000-8000-000000000001' }),
      ev('Viewed Pricing', { distinct: 'c0ffee00-0000-4000-8000-000000000001' }), // a bare distinct_id is a user id (contract §5.3 C7)
    ];
    const check = checkOf(await runDoctor({ records }), 'suspicious-ids');
    expect([check.status, check.count]).toEqual(['warn', 5]);
    expect(check.examples.map((e) => [e.subject, e.facts.reason])).toEqual([
      ['ada@example.com', 'email'],
      ['[object Object]', 'stringified'],
      [' 42', 'whitespace'],
      ['$device:D4', 'device-prefix'],
      ['c0ffee00-0000-4000-8000-000000000001', 'device-as-user'],
    ]);
  });

  it('stays quiet on ordinary ids: UUIDs, database ids, numbers, names, an e-mail used as a device id', async () => {
    const records = [
      ev('Signed Up', { device: '3f1c1e1a-9a52-4a8e-b0f4-5d1e2f3a4b5c', user: 'user-5f2a' }),
      ev('Signed Up', { device: 'D2', user: '42' }),
      ev('Signed Up', { device: 'D3', user: '8d3e1c52-1d43-4c8b-9a36-1f8f1f3d2a10' }),
      ev('Signed Up', { device: 'phone+6512345678', user: 'Ada Lovelace' }),
      ev('Viewed Home', { device: 'ada@example.com' }),
    ];
    expect(checkOf(await runDoctor({ records }), 'suspicious-ids')).toMatchObject({ status: 'pass', count: 0 });
  });

  it('tells copies (retries, hidden by Mixpanel) from one $insert_id reused on different events', async () => {
    const retry = ev('Purchased', { device: 'D1', insert: 'retry-1' });
    const copies = checkOf(await runDoctor({ records: [retry, retry, retry] }), 'insert-ids');
    expect([copies.status, copies.count, copies.facts]).toEqual(['pass', 0, { reused_ids: 0, colliding_ids: 0, missing: 0, copies: 2 }]);
    expect(copies.summary).toContain('2 exact copies');

    const otherDay = checkOf(
      await runDoctor({
        records: [
          ev('Purchased', { device: 'D1', insert: 'k' }),
          ev('Purchased', { device: 'D1', insert: 'k', time: START + 2 * 86_400_000 }),
        ],
      }),
      'insert-ids',
    );
    expect([otherDay.status, otherDay.count, otherDay.facts.reused_ids]).toEqual(['warn', 2, 1]);
    expect(otherDay.examples[0]).toMatchObject({ subject: 'k', facts: { different_events: 2, may_be_dropped: false } });

    const sameDay = checkOf(
      await runDoctor({
        records: [
          ev('Purchased', { device: 'D1', insert: 'k' }),
          ev('Purchased', { device: 'D1', insert: 'k' }),
          ev('Viewed', { device: 'D1', insert: 'k' }),
        ],
      }),
      'insert-ids',
    );
    expect([sameDay.status, sameDay.count, sameDay.facts.colliding_ids]).toEqual(['fail', 3, 1]);
    expect(sameDay.examples[0]!.facts.may_be_dropped).toBe(true);
  });

  it('warns about events without an $insert_id', async () => {
    const check = checkOf(
      await runDoctor({ records: [ev('Viewed Home', { device: 'D1', insert: null }), ev('Viewed Home', { device: 'D1' })] }),
      'insert-ids',
    );
    expect([check.status, check.count, check.facts.missing]).toEqual(['warn', 1, 1]);
    expect(check.examples[0]).toMatchObject({ subject: '(no $insert_id)', facts: { events: 1 } });
  });

  it('caps examples per check and events per example', async () => {
    const records = [1, 2, 3].flatMap((n) => [
      ev('User Identified', { device: `D${n}`, user: `A${n}` }),
      ev('Viewed Home', { device: `D${n}` }),
      ev('Viewed Home', { device: `D${n}` }),
      ev('User Identified', { device: `D${n}`, user: `B${n}` }),
    ]);
    const one = checkOf(await runDoctor({ records }, { examples: 1 }), 'shared-devices');
    expect([one.count, one.examples.length, one.examples[0]!.events.length]).toEqual([3, 1, 1]);
    expect(checkOf(await runDoctor({ records }, { examples: 0 }), 'shared-devices').examples).toEqual([]);
    expect(checkOf(await runDoctor({ records }), 'shared-devices').examples).toHaveLength(3);
  });

  it('rejects a bad source or option with a DoctorError and a stable code', async () => {
    const attempts: unknown[] = [
      {},
      { db: 'a', ndjson: 'b' },
      { url: 'ftp://x' },
      { db: '' },
      { records: 5 },
      { url: 'http://127.0.0.1:7600', token: 7 },
      null,
    ];
    for (const source of attempts) {
      await expect(runDoctor(source as never)).rejects.toMatchObject({ name: 'DoctorError', code: 'IDSTITCH_DOCTOR_INVALID_ARGUMENT' });
    }
    await expect(runDoctor({ records: [] }, { examples: 101 })).rejects.toBeInstanceOf(DoctorError);
    await expect(runDoctor({ records: [] }, { examples: 1.5 })).rejects.toMatchObject({ code: 'IDSTITCH_DOCTOR_INVALID_ARGUMENT' });
  });

  it('gives the same verdicts for the same stream (pure)', async () => {
    const records = [
      ev('Viewed', { device: 'D1' }),
      ev('Id', { device: 'D1', user: 'U1' }),
      ev('Viewed', { device: 'D1' }),
      ev('Id', { device: 'D1', user: 'U2' }),
    ];
    expect(verdicts(await runDoctor({ records }))).toEqual(verdicts(await runDoctor({ records })));
  });
});
