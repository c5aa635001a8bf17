import { ASSIGNED_ALREADY, DEVICE_PREFIX } from '../id-merge.js';
import type { FeedEvent } from '../collector/query.js';

/** One row of a guide-style table, ids shown as D1, D2… and U1, U2… */
export interface DemoRow {
  /** Position in the flow's table (the guide's "Event" column). */
  readonly event: number;
  readonly name: string;
  readonly deviceId: string | null;
  readonly userId: string | null;
  /** As the guide prints it: `$device:D1`, `U1`, or `$device:D1 ⇒ U1` once resolved to a user. */
  readonly distinctId: string;
  /** The `distinct_id` derived at ingestion, e.g. `$device:D1`. */
  readonly original: string;
  /** What it resolves to now, e.g. `U1`. */
  readonly resolved: string;
  readonly notes: string;
}

export interface DemoStage {
  /** What the person does in this part of the flow. */
  readonly title: string;
  readonly rows: DemoRow[];
}

/** A row where the collector's result differs from the note the guide prints for it. */
export interface DemoCorrection {
  /** Index of the stage (in `DemoFlow.stages`) and number of the event the guide annotates. */
  readonly stage: number;
  readonly event: number;
  readonly guide: string;
  readonly collector: string;
  readonly why: string;
}

export interface DemoFlow {
  readonly title: string;
  readonly stages: DemoStage[];
  /** The ID clusters at the end of the flow: each user (null for a lone device) and its devices. */
  readonly clusters: Array<{ readonly user: string | null; readonly devices: string[] }>;
  readonly corrections: DemoCorrection[];
  /** Each label and the real id behind it (the device cookie's value, the user id). */
  readonly legend: Record<string, string>;
}

/** What a step of a flow says about the event it sends. */
export interface StepNotes {
  /** Shown in the stage where the event first appears; `{device}` is replaced by its device label. */
  readonly note?: string;
  /** The guide's note for this event where it links, compared with the collector's. */
  readonly guide?: string;
  /** Why the collector's result differs from `guide`; used only if it does. */
  readonly whyGuideDiffers?: string;
}

/** The identity state read back from the collector's query API. */
export interface IdentityState {
  /** The user a raw device id is linked to, or null. */
  userOfDevice(deviceId: string): string | null;
  /** The raw device ids linked to a user. */
  devicesOf(userId: string): readonly string[];
}

/** Short names for ids, in order of first appearance, as the guide writes them. */
export class Labels {
  readonly #labels = new Map<string, string>();
  readonly #legend: Record<string, string> = {};
  #devices = 0;
  #users = 0;

  device(deviceId: string): string {
    return this.#name(`device:${deviceId}`, () => `D${++this.#devices}`, deviceId);
  }

  user(userId: string): string {
    return this.#name(`user:${userId}`, () => `U${++this.#users}`, userId);
  }

  /** `$device:<raw>` → `$device:D1`; a user id → `U1`. */
  distinctId(distinctId: string): string {
    return distinctId.startsWith(DEVICE_PREFIX)
      ? DEVICE_PREFIX + this.device(distinctId.slice(DEVICE_PREFIX.length))
      : this.user(distinctId);
  }

  /** Devices first, then users, each in order. */
  legend(): Record<string, string> {
    const order = (label: string) => (label[0] === 'D' ? 0 : 1e6) + Number(label.slice(1));
    return Object.fromEntries(Object.entries(this.#legend).sort(([a], [b]) => order(a) - order(b)));
  }

  #name(key: string, next: () => string, id: string): string {
    let label = this.#labels.get(key);
    if (label === undefined) {
      label = next();
      this.#labels.set(key, label);
      this.#legend[label] = id;
    }
    return label;
  }
}

/**
 * Turns the events the collector returns for one set of people into the guide's tables, stage after
 * stage. The notes are computed from the collector's answers: "Retroactively updated" when an event
 * resolves to someone else than at the previous stage, "Links D ⇒ U" on the event that linked, and
 * the cluster it formed, read from the identity API.
 */
export class FlowTables {
  readonly labels = new Labels();
  /** Event key → what it resolved to when last shown. */
  readonly #shown = new Map<string, string>();

  /**
   * One table. `events` is everything these people sent so far, in time order; the ones not shown
   * before are the events of this stage's steps, matched to `steps` in order.
   */
  stage(
    title: string,
    events: readonly FeedEvent[],
    state: IdentityState,
    steps: readonly StepNotes[],
  ): { stage: DemoStage; corrections: Array<Omit<DemoCorrection, 'stage'>> } {
    const fresh = events.filter((event) => !this.#shown.has(keyOf(event)));
    if (fresh.length !== steps.length) {
      throw new Error(`stage "${title}": the collector shows ${fresh.length} new events, the flow sent ${steps.length}`);
    }
    const stepOf = new Map(fresh.map((event, index) => [keyOf(event), steps[index]!]));
    const corrections: Array<Omit<DemoCorrection, 'stage'>> = [];
    const linked = new Set<string>();
    const rows = events.map((event, index): DemoRow => {
      const step = stepOf.get(keyOf(event));
      const device = event.device_id === null ? null : this.labels.device(event.device_id);
      const user = event.user_id === null ? null : this.labels.user(event.user_id);
      const original = this.labels.distinctId(event.original_distinct_id);
      const resolved = this.labels.distinctId(event.distinct_id);
      const notes: string[] = [];
      if (step?.note) notes.push(step.note.replace('{device}', device ?? ''));
      if (original !== resolved && this.#shown.get(keyOf(event)) !== event.distinct_id) notes.push('Retroactively updated');
      if (event.device_id !== null && event.user_id !== null) {
        const owner = state.userOfDevice(event.device_id);
        if (event.properties.$identity_failure_reason === ASSIGNED_ALREADY) {
          notes.push(`${device} is already linked to ${owner === null ? '?' : this.labels.user(owner)}: not relinked`);
        } else if (owner === event.user_id && !linked.has(event.device_id)) {
          // The first event carrying this device and its user is the one that linked them (contract §5.5).
          linked.add(event.device_id);
          let note = `Links ${device} ⇒ ${user}`;
          if (step) {
            const members = state
              .devicesOf(event.user_id)
              .map((id) => this.labels.device(id))
              .sort(byNumber);
            note += `, ${listing([...members, user!])} are inside one ID cluster`;
            if (step.guide !== undefined && step.guide !== note) {
              corrections.push({ event: index + 1, guide: step.guide, collector: note, why: step.whyGuideDiffers ?? '' });
            }
          }
          notes.push(note);
        }
      }
      const distinctId = original === resolved ? original : `${original} ⇒ ${resolved}`;
      return {
        event: index + 1,
        name: event.event,
        deviceId: device,
        userId: user,
        distinctId,
        original,
        resolved,
        notes: notes.join('; '),
      };
    });
    for (const event of events) this.#shown.set(keyOf(event), event.distinct_id);
    return { stage: { title, rows }, corrections };
  }

  /** The clusters of these users and devices now, in label order. */
  clusters(users: readonly string[], devices: readonly string[], state: IdentityState): DemoFlow['clusters'] {
    const clusters: Array<{ user: string | null; devices: string[] }> = users.map((user) => ({
      user: this.labels.user(user),
      devices: state
        .devicesOf(user)
        .map((id) => this.labels.device(id))
        .sort(byNumber),
    }));
    for (const device of devices)
      if (state.userOfDevice(device) === null) clusters.push({ user: null, devices: [this.labels.device(device)] });
    return clusters;
  }
}

/** The guide's table as text, one per stage, then the clusters and any corrections. */
export function formatDemo(flows: readonly DemoFlow[]): string {
  const out: string[] = [];
  flows.forEach((flow, index) => {
    out.push(`━━ Flow ${index + 1} of ${flows.length}: ${flow.title} ━━`, '');
    flow.stages.forEach((stage, stageIndex) => {
      out.push(stage.title, '');
      const corrected = new Set(flow.corrections.filter((c) => c.stage === stageIndex).map((c) => c.event));
      const rows = stage.rows.map((row) => [
        `${row.event} ${row.name}`,
        row.deviceId ?? '',
        row.userId ?? '',
        row.distinctId,
        corrected.has(row.event) ? `${row.notes} (the guide says otherwise: see below)` : row.notes,
      ]);
      out.push(...table(['Event', '$device_id', '$user_id', 'distinct_id (set by the collector)', 'Notes'], rows), '');
    });
    const clusters = flow.clusters.map((c) => `{${[...c.devices, ...(c.user === null ? [] : [c.user])].join(', ')}}`);
    out.push(`ID clusters now: ${clusters.join('  ')}`);
    out.push(
      `Ids: ${Object.entries(flow.legend)
        .map(([label, id]) => `${label} = ${id}`)
        .join(', ')}`,
      '',
    );
    for (const correction of flow.corrections) {
      out.push(`Note: the guide's note on event ${correction.event} reads "${correction.guide}".`);
      out.push(`  The collector: "${correction.collector}".`);
      if (correction.why) out.push(...wrap(correction.why, 100).map((line) => `  ${line}`));
      out.push('');
    }
  });
  return out.join('\n');
}

function table(header: readonly string[], rows: readonly string[][]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)];
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return line === '' ? lines : [...lines, line];
}

/** "A and B", "A, B, and C", as the guide writes its cluster notes. */
function listing(items: readonly string[]): string {
  if (items.length <= 2) return items.join(' and ');
  return `${items.slice(0, -1).join(', ')}, and ${items.at(-1)}`;
}

function byNumber(a: string, b: string): number {
  return Number(a.slice(1)) - Number(b.slice(1));
}

function keyOf(event: FeedEvent): string {
  return event.insert_id ?? `${event.time}\u0000${event.event}\u0000${event.original_distinct_id}`;
}
