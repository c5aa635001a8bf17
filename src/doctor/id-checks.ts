// The checks on the ids themselves: placeholders, ids that do not look like a user's, `$insert_id`s.
import { byTime, example, type Observations } from './analysis.js';
import { ID_PROBLEM_TEXT } from './ids.js';
import type { DoctorCheck, DoctorExample } from './report.js';
import { check, plural, verb } from './wording.js';

const DAY = 24 * 60 * 60 * 1000; // ms

export function denylistedIds(seen: Observations): DoctorCheck {
  const found: DoctorExample[] = [];
  for (const id of seen.ids.values()) {
    if (id.problem !== 'denylisted') continue;
    const devices = seen.graph.isUser(id.value) ? seen.graph.devicesOf(id.value) : [];
    const where = [...id.fields].join(', ');
    found.push({
      subject: id.value,
      detail: `${JSON.stringify(id.value)} (${where}, on ${plural(id.events, 'event')}${id.profiles > 0 ? ` and ${plural(id.profiles, 'profile')}` : ''}${devices.length > 1 ? `, linking ${devices.length} devices into one "user"` : ''}) ${ID_PROBLEM_TEXT.denylisted}`,
      facts: { fields: [...id.fields], events: id.events, profiles: id.profiles, linked_devices: devices.length },
      events: id.first.map((entry) => example(entry, `${where} is ${JSON.stringify(id.value)}`)),
    });
  }
  const summary =
    found.length === 0
      ? 'No event or profile carries a deny-listed id.'
      : `${plural(seen.denylistedRecords, 'record')} (events or profiles) ${verb(seen.denylistedRecords, 'carries', 'carry')} a placeholder id: ${found.map((f) => JSON.stringify(f.subject)).join(', ')}. Leave an unknown user id out; never send "undefined" or "null".`;
  return check('denylisted-ids', 'fail', seen.denylistedRecords, summary, found, seen.examples);
}

export function suspiciousIds(seen: Observations): DoctorCheck {
  const found: DoctorExample[] = [];
  for (const id of seen.ids.values()) {
    if (id.problem === 'denylisted') continue;
    const where = [...id.fields].join(', ');
    found.push({
      subject: id.value,
      detail: `${JSON.stringify(id.value)} (${where}) ${ID_PROBLEM_TEXT[id.problem]}`,
      facts: { reason: id.problem, fields: [...id.fields], events: id.events, profiles: id.profiles },
      events: [...id.first].sort(byTime).map((entry) => example(entry, `${where} ${JSON.stringify(id.value)}`)),
    });
  }
  const summary =
    found.length === 0
      ? 'No user id looks like an e-mail address, a value converted by mistake or a device id.'
      : `${plural(found.length, 'id')} ${verb(found.length, 'looks', 'look')} wrong for a stable user id (${[...new Set(found.map((f) => f.facts.reason as string))].join(', ')}). Send the app's database id as $user_id.`;
  return check('suspicious-ids', 'warn', found.length, summary, found, seen.examples);
}

export function insertIds(seen: Observations): DoctorCheck {
  const found: DoctorExample[] = [];
  let copies = 0;
  let colliding = 0;
  let sharing = 0;
  for (const [insertId, group] of seen.insertIds) {
    if (group.events < 2) continue;
    const keys = [...group.keys.values()];
    for (const key of keys) copies += key.count - 1;
    if (keys.length < 2) continue;
    sharing += keys.length;
    // Compaction de-duplicates on event, distinct_id and calendar day, ignoring the exact time (contract §4).
    const days = new Set<string>();
    let collides = false;
    for (const { entry } of keys) {
      const { event } = entry;
      const day = `${event.event}\u0000${event.distinctId}\u0000${event.time === null ? '' : Math.floor(event.time / DAY)}`;
      if (days.has(day)) collides = true;
      days.add(day);
    }
    if (collides) colliding++;
    found.push({
      subject: insertId,
      detail: `one $insert_id on ${plural(keys.length, 'different event')}${collides ? ": Mixpanel's compaction treats events with the same name, distinct_id and day as copies and may keep only one" : ''}. Generate one per event (idstitch does) and reuse it only for retries`,
      facts: { different_events: keys.length, events: group.events, may_be_dropped: collides },
      events: keys.map(({ entry, count }) => example(entry, count > 1 ? `sent ${count} times` : 'same $insert_id')).slice(0, seen.examples),
    });
  }
  if (seen.missingInsertIds > 0) {
    found.push({
      subject: '(no $insert_id)',
      detail: `${plural(seen.missingInsertIds, 'event')} without an $insert_id: Mixpanel cannot de-duplicate them, so a retried request counts them twice`,
      facts: { events: seen.missingInsertIds },
      events: seen.missingFirst.map((entry) => example(entry, 'no $insert_id')),
    });
  }
  const count = sharing + seen.missingInsertIds;
  const facts = {
    reused_ids: found.length - (seen.missingInsertIds > 0 ? 1 : 0),
    colliding_ids: colliding,
    missing: seen.missingInsertIds,
    copies,
  };
  // Copies (same key) are what $insert_id exists for: a retry whose first attempt landed. Mixpanel hides them at query time.
  const copyNote =
    copies > 0
      ? ` ${copies} exact ${copies === 1 ? 'copy' : 'copies'} (same $insert_id, name, distinct_id and time, as a retry sends) ${verb(copies, 'is', 'are')} hidden by Mixpanel at query time, as intended.`
      : '';
  const summary =
    count === 0
      ? `Every event has its own $insert_id.${copyNote}`
      : `${plural(count, 'event')} ${verb(count, 'lacks', 'lack')} an $insert_id of their own: ${[
          sharing > 0
            ? `${sharing} share one with a different event${colliding > 0 ? ` (under ${plural(colliding, '$insert_id')} whose events are so alike that Mixpanel may drop some)` : ''}`
            : '',
          seen.missingInsertIds > 0 ? `${seen.missingInsertIds} ${verb(seen.missingInsertIds, 'has', 'have')} none` : '',
        ]
          .filter(Boolean)
          .join(', ')}.${copyNote}`;
  return check('insert-ids', colliding > 0 ? 'fail' : 'warn', count, summary, found, seen.examples, facts);
}
