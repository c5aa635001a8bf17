import type { IncomingMessage } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { describe, isPlainObject } from '../options.js';
import { DENYLISTED_IDS } from '../user.js';
import { BodyError } from './body.js';
import { DEVICE_PREFIX } from '../id-merge.js';
import { closing, readPayload, type IngestContext } from './ingest.js';
import { failure, json, received, type Reply } from './reply.js';

/** Profile operations, one or more per update object (contract §1.4; groups lack `$add`/`$append`, §1.5). */
const USER_OPERATIONS = ['$set', '$set_once', '$add', '$append', '$union', '$remove', '$unset', '$delete'] as const;
const GROUP_OPERATIONS: ReadonlySet<string> = new Set(['$set', '$set_once', '$union', '$remove', '$unset', '$delete']);
/** Top-level keys that are not operations (contract §1.4), plus the ids mixpanel-js adds to people updates. */
const MODIFIERS: ReadonlySet<string> = new Set([
  '$token',
  '$distinct_id',
  '$group_key',
  '$group_id',
  '$ip',
  '$time',
  '$ignore_time',
  '$ignore_alias',
  '$latitude',
  '$longitude',
  '$device_id',
  '$user_id',
]);

type Operation = (typeof USER_OPERATIONS)[number];
type Properties = Record<string, unknown>;

interface UpdateFailure {
  readonly index: number;
  readonly field: string;
  readonly message: string;
}

/**
 * `/engage` and `/groups` (contract §1.4, §1.5, §5.7): profiles keyed by the exact `$distinct_id`
 * (or group key and id), updated in request order in one transaction. Answers like `/track`: `1`/`0`,
 * verbose `{status, error}`; with `strict=1` a `{code, num_good_events, failed_records}` body (shape UNCONFIRMED, U12).
 */
export async function ingestProfiles(
  kind: 'engage' | 'groups',
  request: IncomingMessage,
  url: URL,
  context: IngestContext,
): Promise<Reply> {
  const { config, store } = context;
  const payload = await readPayload(request, url, config, config.gzipProfiles);
  if (payload instanceof BodyError) {
    const reply = payload.status === 400 ? received(url.searchParams, false, payload.message) : failure(payload.status, payload.message);
    return payload.unread ? closing(reply) : reply;
  }
  const { params, records } = payload;
  const strict = params.get('strict') === '1';
  if (records.length === 0) return received(params, false, 'data, missing or empty');
  if (records.length > config.maxBatchEvents)
    return received(params, false, `request exceeds max limit of ${config.maxBatchEvents} updates`);

  const now = config.clock();
  const failures: UpdateFailure[] = [];
  let good = 0;
  store.transaction(() => {
    records.forEach((update, index) => {
      const problem = kind === 'engage' ? applyUserUpdate(update, context, now) : applyGroupUpdate(update, context);
      if (problem) failures.push({ index, ...problem });
      else good++;
    });
  });

  if (strict) {
    if (failures.length === 0) return json(200, { code: 200, num_good_events: good, status: 'OK' });
    return failure(400, 'some data points in the request failed validation', { failed_records: failures, num_good_events: good });
  }
  return received(params, good > 0, good > 0 ? null : (failures[0]?.message ?? 'no valid updates'));
}

type Problem = { field: string; message: string } | undefined;

function applyUserUpdate(update: unknown, context: IngestContext, now: number): Problem {
  const { config, store } = context;
  const checked = checkUpdate(update, context, USER_OPERATIONS);
  if ('field' in checked) return checked;
  if (checked.skip) return undefined;
  const { object, operations } = checked;
  const raw = object.$distinct_id;
  if (!(typeof raw === 'string' && raw !== '') && !(typeof raw === 'number' && Number.isFinite(raw))) {
    return { field: '$distinct_id', message: "'$distinct_id' must not be missing or blank" };
  }
  let distinctId = String(raw);
  if (DENYLISTED_IDS.has(distinctId.toLowerCase()))
    return { field: '$distinct_id', message: `'$distinct_id' is invalid: ${JSON.stringify(distinctId)} is a placeholder value` };
  // U8: Mixpanel keys profiles by the exact id and does not carry anonymous props over (§5.7); 'cluster' routes to the user.
  if (config.profileRouting === 'cluster' && distinctId.startsWith(DEVICE_PREFIX)) distinctId = store.graph.canonical(distinctId);

  if (operations.includes('$delete')) {
    store.deleteProfile(distinctId);
    return undefined;
  }
  const existing = store.getProfile(distinctId);
  const properties: Properties = existing ? existing.properties : {};
  const problem = applyOperations(properties, object, operations);
  if (problem) return problem;
  const ignoreTime = object.$ignore_time === true || object.$ignore_time === 'true';
  const lastSeen = ignoreTime ? (existing?.lastSeen ?? null) : (toMs(object.$time, config.millisecondsFrom) ?? now);
  store.putProfile(distinctId, { properties, lastSeen });
  return undefined;
}

function applyGroupUpdate(update: unknown, context: IngestContext): Problem {
  const { store } = context;
  const checked = checkUpdate(update, context, [...GROUP_OPERATIONS] as Operation[]);
  if ('field' in checked) return checked;
  if (checked.skip) return undefined;
  const { object, operations } = checked;
  const groupKey = object.$group_key;
  const groupId = object.$group_id;
  if (typeof groupKey !== 'string' || groupKey === '') return { field: '$group_key', message: "'$group_key' must not be missing or blank" };
  if (!(typeof groupId === 'string' && groupId !== '') && typeof groupId !== 'number')
    return { field: '$group_id', message: "'$group_id' must not be missing or blank" };
  if (operations.includes('$delete')) {
    store.deleteGroup(groupKey, String(groupId));
    return undefined;
  }
  const properties = store.getGroup(groupKey, String(groupId)) ?? {};
  const problem = applyOperations(properties, object, operations);
  if (problem) return problem;
  store.putGroup(groupKey, String(groupId), properties);
  return undefined;
}

/** Shape checks shared by users and groups: an object, the right token, known operations, at least one. */
function checkUpdate(
  update: unknown,
  context: IngestContext,
  allowed: readonly Operation[],
): { field: string; message: string } | { skip: true } | { skip: false; object: Properties; operations: Operation[] } {
  const { config } = context;
  if (!isPlainObject(update)) return { field: 'record', message: `each update must be a JSON object, got ${describe(update)}` };
  if (config.token !== undefined && update.$token !== config.token) {
    if (config.wrongTokenOnTrack === 'silent') return { skip: true };
    return { field: '$token', message: "'$token' is invalid: not this project's token" };
  }
  const operations: Operation[] = [];
  for (const key of Object.keys(update)) {
    if (MODIFIERS.has(key)) continue;
    if (!(allowed as readonly string[]).includes(key))
      return { field: key, message: `${JSON.stringify(key)} is not a profile operation (use ${allowed.join(', ')})` };
    operations.push(key as Operation);
  }
  if (operations.length === 0) return { field: 'record', message: `the update has no operation (${allowed.join(', ')})` };
  return { skip: false, object: update, operations };
}

/** Applies the operations in the order they appear; validates every value first so a bad update changes nothing. */
function applyOperations(properties: Properties, update: Properties, operations: readonly Operation[]): Problem {
  for (const operation of operations) {
    const value = update[operation];
    if (operation === '$unset') {
      if (!Array.isArray(value) || !value.every((name) => typeof name === 'string'))
        return { field: operation, message: `'${operation}' must be a list of property names` };
      continue;
    }
    if (operation === '$delete') continue;
    if (!isPlainObject(value)) return { field: operation, message: `'${operation}' must be an object of properties` };
    for (const [name, item] of Object.entries(value)) {
      if (operation === '$add' && (typeof item !== 'number' || !Number.isFinite(item)))
        return { field: `${operation}.${name}`, message: `'${operation}' values must be numbers` };
      if (operation === '$union' && !Array.isArray(item))
        return { field: `${operation}.${name}`, message: `'${operation}' values must be lists` };
    }
  }
  for (const operation of operations) {
    const value = update[operation];
    if (operation === '$unset') {
      for (const name of value as string[]) delete properties[name];
      continue;
    }
    for (const [name, item] of Object.entries(value as Properties)) applyOne(properties, operation, name, item);
  }
  return undefined;
}

function applyOne(properties: Properties, operation: Operation, name: string, item: unknown): void {
  const current = properties[name];
  switch (operation) {
    case '$set':
      properties[name] = item;
      break;
    case '$set_once':
      if (!(name in properties)) properties[name] = item;
      break;
    case '$add':
      properties[name] = (typeof current === 'number' ? current : 0) + (item as number);
      break;
    case '$append':
      properties[name] = Array.isArray(current) ? [...current, item] : current === undefined ? [item] : [current, item];
      break;
    case '$union': {
      const list = Array.isArray(current) ? [...current] : current === undefined ? [] : [current];
      for (const value of item as unknown[]) if (!list.some((existing) => isDeepStrictEqual(existing, value))) list.push(value);
      properties[name] = list;
      break;
    }
    case '$remove':
      if (Array.isArray(current)) properties[name] = current.filter((existing) => !isDeepStrictEqual(existing, item));
      break;
    default:
      break;
  }
}

function toMs(value: unknown, millisecondsFrom: number): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  return Math.round(value >= millisecondsFrom ? value : value * 1000);
}
