import { DEVICE_PREFIX, IDENTITY_EVENTS } from '../id-merge.js';
import { example, firstLinkCost, Observations, type Entry, type Misattributed } from './analysis.js';
import { denylistedIds, insertIds, suspiciousIds } from './id-checks.js';
import { check, plural, verb } from './wording.js';
import { worst, type DoctorCheck, type DoctorExample, type DoctorInput, type DoctorProfile, type DoctorReport } from './report.js';

export { DOCTOR_CHECKS } from './wording.js';

/**
 * Reads every event (in ingestion order) and profile of `input` and reports the guide's QA list.
 * Pure: the same input gives the same report. `examples` caps examples per check and events per example.
 */
export function diagnose(input: DoctorInput, examples: number): DoctorReport {
  const seen = new Observations(examples);
  for (const event of input.events) seen.add(event);
  const profiles = [...input.profiles];
  for (const profile of profiles) seen.addProfileId(profile.distinctId);
  // A user id that is also a device id is only known once both were seen.
  for (const [userId, user] of seen.users) {
    if (!seen.graph.isDevice(userId)) continue;
    const flagged = seen.flagId(userId, 'device-as-user', '$user_id');
    flagged.events += user.events;
    flagged.first.push(...user.first.slice(0, Math.max(0, examples - flagged.first.length)));
  }

  const costs = sharedDevicesOf(seen);
  const checks = [
    prePostLogin(seen, costs),
    sharedDevices(seen, costs),
    anonymousProfiles(seen, profiles),
    unidentifiedUsers(seen),
    denylistedIds(seen),
    suspiciousIds(seen),
    insertIds(seen),
  ];
  return {
    status: worst(checks.map((check) => check.status)),
    source: input.description,
    totals: { events: seen.events, users: seen.users.size, devices: seen.devices.size, profiles: profiles.length, skipped: input.skipped },
    checks,
  };
}

type SharedDevices = Map<string, { readonly linkedTo: string | null; readonly misattributed: Misattributed[]; readonly refused: Entry[] }>;

/** Per device seen with several users: what the first-link rule cost (two checks read it). */
function sharedDevicesOf(seen: Observations): SharedDevices {
  const result: SharedDevices = new Map();
  for (const [deviceId, device] of seen.devices) {
    if (device.users.size < 2) continue;
    const linkedTo = seen.graph.userOf(deviceId) ?? null;
    result.set(deviceId, { linkedTo, ...firstLinkCost(device, linkedTo) });
  }
  return result;
}

function prePostLogin(seen: Observations, shared: SharedDevices): DoctorCheck {
  const { graph } = seen;
  const found: DoctorExample[] = [];
  let misattributedTotal = 0;
  for (const [userId, user] of seen.users) {
    const elsewhere = [...user.devices].filter((deviceId) => graph.userOf(deviceId) !== userId);
    if (elsewhere.length === 0) continue;
    const costs = elsewhere.map((deviceId) => ({ deviceId, linkedTo: graph.userOf(deviceId) ?? null, cost: shared.get(deviceId) }));
    const misattributed = costs.flatMap(({ cost }) => cost?.misattributed.filter((m) => m.owner === userId) ?? []);
    const refused = costs.flatMap(({ cost }) => cost?.refused.filter((entry) => entry.event.userId === userId) ?? []);
    misattributedTotal += misattributed.length;
    const owners = [...new Set(costs.map(({ linkedTo }) => linkedTo ?? '?'))];
    found.push({
      subject: userId,
      detail:
        `logged in on ${costs.map(({ deviceId }) => DEVICE_PREFIX + deviceId).join(', ')}, already linked to ${owners.join(', ')} (first link wins), so this user's cluster lacks the device` +
        (misattributed.length > 0
          ? ` and ${plural(misattributed.length, 'anonymous event')} from before this login ${verb(misattributed.length, 'counts', 'count')} as ${owners.join(', ')}'s`
          : ''),
      facts: { devices: elsewhere, linked_to: owners, misattributed_events: misattributed.length, refused_links: refused.length },
      events: [
        ...misattributed.map(({ entry }) =>
          example(entry, `anonymous before ${userId} logged in; attributed to ${graph.userOf(entry.event.deviceId!) ?? '?'}`),
        ),
        ...refused.map((entry) =>
          example(entry, `link refused: the device is already linked to ${graph.userOf(entry.event.deviceId!) ?? '?'}`),
        ),
      ].slice(0, seen.examples),
    });
  }
  // Positive evidence for the pass: identified users whose anonymous events were stitched to them.
  const unstitched: DoctorExample[] = [];
  let identified = 0;
  let anonymousEvents = 0;
  for (const device of seen.devices.values()) for (const entry of device.entries) if (entry.event.userId === null) anonymousEvents++;
  for (const userId of seen.users.keys()) {
    const devices = graph.devicesOf(userId);
    if (devices.length === 0) continue;
    identified++;
    if (devices.some((deviceId) => seen.devices.get(deviceId)?.entries.some((entry) => entry.event.userId === null))) continue;
    unstitched.push({
      subject: userId,
      detail: `linked to ${devices.map((deviceId) => DEVICE_PREFIX + deviceId).join(', ')}, which never sent an anonymous event`,
      facts: { devices },
      events: [],
    });
  }
  const stitched = identified - unstitched.length;
  const facts = { identified_users: identified, stitched_users: stitched, misattributed_events: misattributedTotal };
  if (found.length > 0) {
    const summary = `${plural(found.length, 'user')} logged in on a device already linked to someone else, so ${plural(misattributedTotal, 'anonymous event')} from before their login went to the other user, and the device is missing from their cluster. Reset the device id on logout (resetUser).`;
    return check('pre-post-login', 'fail', found.length, summary, found, seen.examples, facts);
  }
  if (identified > 0 && stitched === 0 && anonymousEvents > 0) {
    // Visitors browse anonymously and users log in, yet no login carried a device that had browsed: the usual cause is a device id that changes at login.
    const summary = `None of the ${plural(identified, 'identified user')} has anonymous events linked, although ${plural(anonymousEvents, 'anonymous event')} exist: is the device id regenerated at login (a session id used as the device id)? The login event must carry the device id the visitor browsed with.`;
    return check('pre-post-login', 'warn', identified, summary, unstitched, seen.examples, facts);
  }
  const summary =
    identified === 0
      ? 'No user has been linked to a device yet.'
      : `No login was refused; identified users with anonymous events from before their login attributed to them: ${stitched} of ${identified}.`;
  return check('pre-post-login', 'pass', 0, summary, [], seen.examples, facts);
}

function sharedDevices(seen: Observations, shared: SharedDevices): DoctorCheck {
  const found: DoctorExample[] = [];
  let misattributedTotal = 0;
  let refusedTotal = 0;
  for (const [deviceId, { linkedTo, misattributed, refused }] of shared) {
    const users = [...seen.devices.get(deviceId)!.users];
    const others = users.filter((userId) => userId !== linkedTo);
    misattributedTotal += misattributed.length;
    refusedTotal += refused.length;
    found.push({
      subject: DEVICE_PREFIX + deviceId,
      detail:
        linkedTo === null
          ? `seen with ${users.join(', ')} only on identity verbs, which link nothing in Simplified projects`
          : `linked to ${linkedTo} (first link wins), then used by ${others.join(', ')} without a device reset: ${plural(refused.length, 'event')} carrying another user could not link` +
            (misattributed.length > 0
              ? `, and ${plural(misattributed.length, 'anonymous event')} before their login ${verb(misattributed.length, 'counts', 'count')} as ${linkedTo}'s`
              : ''),
      facts: { linked_user: linkedTo, other_users: others, misattributed_events: misattributed.length, refused_links: refused.length },
      events: [
        ...misattributed.map(({ entry, owner }) => example(entry, `anonymous before ${owner} logged in; attributed to ${linkedTo}`)),
        ...refused.map((entry) => example(entry, `link to ${entry.event.userId} refused: already linked to ${linkedTo}`)),
      ].slice(0, seen.examples),
    });
  }
  const summary =
    found.length === 0
      ? `No device was seen with more than one user (${plural(seen.devices.size, 'device')} checked).`
      : `${plural(found.length, 'device')} ${verb(found.length, 'was', 'were')} used by more than one user. A device stays with its first user, so ${plural(misattributedTotal, 'anonymous event')} that preceded another user's login ${verb(misattributedTotal, 'is', 'are')} attributed to the first user, and ${plural(refusedTotal, 'event')} could not link. Call resetUser(req) on logout and when a session ends.`;
  return check('shared-devices', 'fail', found.length, summary, found, seen.examples, {
    misattributed_events: misattributedTotal,
    refused_links: refusedTotal,
  });
}

function anonymousProfiles(seen: Observations, profiles: readonly DoctorProfile[]): DoctorCheck {
  const { graph } = seen;
  const ids = new Set(profiles.map((profile) => profile.distinctId));
  const found: DoctorExample[] = [];
  let duplicates = 0;
  for (const { distinctId, properties } of profiles) {
    const names = Object.keys(properties).sort();
    let detail: string;
    let linkedTo: string | null;
    if (distinctId.startsWith(DEVICE_PREFIX)) {
      linkedTo = graph.userOf(distinctId.slice(DEVICE_PREFIX.length)) ?? null;
      if (linkedTo === null) {
        detail = 'a profile for an anonymous device: set profile properties once the user is identified, on the user id';
      } else {
        duplicates++;
        detail = `a second profile for ${linkedTo}, whose device it is: Mixpanel does not carry a device's profile properties over when the device is linked, so ${ids.has(linkedTo) ? `${linkedTo}'s profile lacks them` : `${linkedTo} has no profile with them`}`;
      }
    } else if (graph.isDevice(distinctId) && !graph.isUser(distinctId)) {
      linkedTo = graph.userOf(distinctId) ?? null;
      duplicates++;
      detail = 'keyed by a raw device id without the "$device:" prefix: Mixpanel reads it as a user id, a phantom user with no events';
    } else {
      continue;
    }
    found.push({ subject: distinctId, detail, facts: { linked_user: linkedTo, properties: names }, events: [] });
  }
  const summary =
    found.length === 0
      ? `No profile belongs to an anonymous device (${plural(profiles.length, 'profile')} checked).`
      : `${plural(found.length, 'profile')} ${verb(found.length, 'was', 'were')} set for anonymous devices${duplicates > 0 ? `, ${duplicates} of them duplicating a user's profile` : ''}. The guide: "Avoid creating profiles for anonymous users"; set properties on the user id after identifying.`;
  return check('anonymous-profiles', duplicates > 0 ? 'fail' : 'warn', found.length, summary, found, seen.examples, {
    duplicate_profiles: duplicates,
  });
}

function unidentifiedUsers(seen: Observations): DoctorCheck {
  const found: DoctorExample[] = [];
  for (const [userId, user] of seen.users) {
    if (user.devices.size > 0) continue;
    const verbs = [...IDENTITY_EVENTS].join(', ');
    found.push({
      subject: userId,
      detail: user.verbOnly
        ? `only ${verbs} events carry a $device_id with this user; Simplified ID Merge ignores them, so nothing links the user's anonymous events`
        : `${plural(user.events, 'event')}, none carrying a $device_id: nothing links this user's anonymous events (an event with both ids at login does)`,
      facts: { events: user.events, identity_verbs_only: user.verbOnly },
      events: user.first.map((entry) => example(entry, 'no $device_id')),
    });
  }
  const summary =
    found.length === 0
      ? `Every user has an event carrying a $device_id (${plural(seen.users.size, 'user')} checked).`
      : `${plural(found.length, 'user')} never had an event carrying both a $device_id and their $user_id, so their pre-login activity cannot be linked. Send one event with both at login (identifyUser).`;
  return check('unidentified-users', 'warn', found.length, summary, found, seen.examples);
}
