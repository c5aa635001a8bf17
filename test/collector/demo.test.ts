// The demo replays the guide's three flows through the Express middleware into a collector; its tables
// must be the guide's ("Identifying Users (Simplified)"), with the one wrong note corrected (contract §5.9).
import { beforeAll, describe, expect, it } from 'vitest';
import { demoTables, formatDemo, runDemo, type DemoFlow } from '../../src/cli/demo.js';
import { collector } from './helpers.js';

type Row = [event: number, deviceId: string, userId: string, distinctId: string, notes: string];

/** The guide's tables, row for row: Event, $device_id, $user_id, distinct_id (set by Mixpanel), Notes. */
const GUIDE: Record<string, Row[][]> = {
  'New user signup': [
    [
      [1, 'D1', '', '$device:D1', ''],
      [2, 'D1', '', '$device:D1', ''],
    ],
    [
      [1, 'D1', '', '$device:D1 ⇒ U1', 'Retroactively updated'],
      [2, 'D1', '', '$device:D1 ⇒ U1', 'Retroactively updated'],
      [3, 'D1', 'U1', 'U1', 'Links D1 ⇒ U1, D1 and U1 are inside one ID cluster'],
    ],
  ],
  'Returning user': [
    [
      [1, 'D1', '', '$device:D1 ⇒ U1', ''],
      [2, 'D1', '', '$device:D1 ⇒ U1', ''],
      [3, 'D1', 'U1', 'U1', 'Links D1 ⇒ U1'],
      [4, 'D2', '', '$device:D2', 'New device D2'],
      [5, 'D2', '', '$device:D2', ''],
    ],
    [
      [1, 'D1', '', '$device:D1 ⇒ U1', ''],
      [2, 'D1', '', '$device:D1 ⇒ U1', ''],
      [3, 'D1', 'U1', 'U1', 'Links D1 ⇒ U1'],
      [4, 'D2', '', '$device:D2 ⇒ U1', 'Retroactively updated'],
      [5, 'D2', '', '$device:D2 ⇒ U1', 'Retroactively updated'],
      [6, 'D2', 'U1', 'U1', 'Links D2 ⇒ U1, D1, D2, and U1 are inside one ID cluster'],
    ],
  ],
  'Multiple users, one device': [
    [[1, 'D1', '', '$device:D1', '']],
    [
      [1, 'D1', '', '$device:D1 ⇒ U1', 'Retroactively updated'],
      [2, 'D1', 'U1', 'U1', 'Links D1 ⇒ U1, D1 and U1 are inside one ID cluster'],
    ],
    [
      [1, 'D1', '', '$device:D1 ⇒ U1', ''],
      [2, 'D1', 'U1', 'U1', 'Links D1 ⇒ U1'],
      [3, 'D2', '', '$device:D2', 'Reset generated new ID: D2'],
      [4, 'D2', '', '$device:D2', ''],
    ],
    [
      [1, 'D1', '', '$device:D1 ⇒ U1', ''],
      [2, 'D1', 'U1', 'U1', 'Links D1 ⇒ U1'],
      [3, 'D2', '', '$device:D2 ⇒ U2', 'Retroactively updated'],
      [4, 'D2', '', '$device:D2 ⇒ U2', 'Retroactively updated'],
      // The guide: "Links D2 ⇒ U2, D1, D2, and U1 are inside one ID cluster". Wrong: U1 and U2 never merge.
      [5, 'D2', 'U2', 'U2', 'Links D2 ⇒ U2, D2 and U2 are inside one ID cluster'],
    ],
  ],
};

describe('idstitch demo', () => {
  let flows: DemoFlow[];
  beforeAll(async () => {
    flows = await demoTables();
  });

  it('replays the three flows of the guide, in its order', () => {
    expect(flows.map((flow) => flow.title)).toEqual(Object.keys(GUIDE));
  });

  it.each(Object.keys(GUIDE))('%s: every stage is the guide table, as the collector resolved it', (title) => {
    const flow = flows.find((f) => f.title === title)!;
    const tables = flow.stages.map((stage) =>
      stage.rows.map((row): Row => [row.event, row.deviceId ?? '', row.userId ?? '', row.distinctId, row.notes]),
    );
    expect(tables).toEqual(GUIDE[title]);
  });

  it('ends with the clusters the rules give: one for the returning user, two on the shared device', () => {
    expect(flows.map((flow) => flow.clusters)).toEqual([
      [{ user: 'U1', devices: ['D1'] }],
      [{ user: 'U1', devices: ['D1', 'D2'] }],
      [
        { user: 'U1', devices: ['D1'] },
        { user: 'U2', devices: ['D2'] },
      ],
    ]);
  });

  it("flags the guide's last note as wrong, and no other", () => {
    expect(flows.flatMap((flow) => flow.corrections.map((correction) => ({ flow: flow.title, ...correction, why: undefined })))).toEqual([
      {
        flow: 'Multiple users, one device',
        stage: 3,
        event: 5,
        guide: 'Links D2 ⇒ U2, D1, D2, and U1 are inside one ID cluster',
        collector: 'Links D2 ⇒ U2, D2 and U2 are inside one ID cluster',
        why: undefined,
      },
    ]);
  });

  it('names the real ids behind the labels: device cookies (UUIDs) and the user ids the app logged in', () => {
    expect(Object.keys(flows[2]!.legend)).toEqual(['D1', 'D2', 'U1', 'U2']);
    expect(flows[2]!.legend).toMatchObject({ U1: 'bob', U2: 'carol', D1: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(flows[2]!.legend.D1).not.toBe(flows[2]!.legend.D2);
    expect(flows[1]!.legend).toMatchObject({ D1: flows[0]!.legend.D1, U1: 'alice' });
  });

  it('prints each stage as a table, then the clusters and the correction', () => {
    const text = formatDemo(flows);
    expect(text).toContain('━━ Flow 3 of 3: Multiple users, one device ━━');
    expect(text).toMatch(/\| 4 Viewed Home +\| D2 +\| +\| \$device:D2 ⇒ U1 +\| Retroactively updated +\|/);
    expect(text).toMatch(
      /\| 5 User Identified \| D2 +\| U2 +\| U2 +\| Links D2 ⇒ U2, D2 and U2 are inside one ID cluster \(the guide says otherwise: see below\) \|/,
    );
    expect(text).toContain('ID clusters now: {D1, U1}  {D2, U2}');
    // A correction of the guide's table, not a failure: no ✗ in a run that succeeded.
    expect(text).not.toContain('✗');
    expect(text).toContain(`Note: the guide's note on event 5 reads "Links D2 ⇒ U2, D1, D2, and U1 are inside one ID cluster".`);
  });

  it('runs against a collector that has a token, sending and reading with it', async () => {
    const started = await collector({ token: 'demo-secret-token' });
    const flows = await runDemo(started);
    expect(flows.map((flow) => flow.clusters.length)).toEqual([1, 1, 2]);
    expect(started.store.countEvents()).toBe(11); // 3 + 3 + 5: logging out sends nothing
  });
});
