import { diagnoseStore } from './doctor-source.js';
import { DOCTOR_DEFAULTS, MAX_EXAMPLES } from '../doctor/options.js';
import type { IdentityGraph } from '../id-merge.js';
import type { CollectorConfig } from './options.js';
import { failure, json, type Reply } from './reply.js';
import type { CollectorStore, StoredEvent } from './store.js';

/** One event of a feed: what ingestion stored and what it resolves to now. */
export interface FeedEvent {
  readonly event: string;
  /** ms since the epoch */
  readonly time: number;
  readonly insert_id: string | null;
  readonly device_id: string | null;
  readonly user_id: string | null;
  /** The `distinct_id` derived at ingestion. */
  readonly original_distinct_id: string;
  /** What it resolves to now (the cluster's canonical id). */
  readonly distinct_id: string;
  /** Stored properties; a re-attributed event also shows `$distinct_id_before_identity` and `$is_reshuffled` (contract §5.2 R10). */
  readonly properties: Record<string, unknown>;
  /** Raw view only: a later copy with the same de-duplication key hides this one from the feed. */
  readonly duplicate?: boolean;
}

export interface IdentityView {
  readonly distinct_id: string;
  readonly user_id: string | null;
  /** The raw `$device_id`s in the cluster, sorted. */
  readonly device_ids: string[];
}

export interface ClusterView extends IdentityView {
  /** Events in the cluster, duplicates (by the stored key) counted once. */
  readonly event_count: number;
  readonly first_time: number | null;
  readonly last_time: number | null;
}

export interface FeedOptions {
  /** Keep duplicates (flagged `duplicate: true`) instead of hiding them. */
  readonly raw?: boolean;
  readonly dedupeBy: CollectorConfig['dedupeBy'];
  /** Most events returned. */
  readonly limit?: number;
}

const DEFAULT_LIMIT = 10_000;
const MAX_LIMIT = 1_000_000;

/** `GET /api/identity/:id` as data; undefined when no user or device has this id (lookup rules in `IdentityGraph.lookup`). */
export function lookupIdentity(graph: IdentityGraph, id: string): IdentityView | undefined {
  const found = graph.lookup(id);
  return found && { distinct_id: found.canonical, user_id: found.userId, device_ids: found.deviceIds };
}

/**
 * The events of the cluster `id` belongs to, in time order (ingestion order breaks ties), resolved now.
 * De-duplication on (`event`, `distinct_id`, `time`, `$insert_id`), the latest ingested copy winning
 * (contract §4); events without `$insert_id` never count as copies. Undefined when the id is unknown.
 */
export function clusterEvents(store: CollectorStore, id: string, options: FeedOptions): FeedEvent[] | undefined {
  const graph = store.graph;
  const found = graph.lookup(id);
  if (!found) return undefined;
  const rows = store.eventsOf(graph.cluster(found.canonical));
  const keyOf = (row: StoredEvent): string | undefined => {
    if (row.insertId === null) return undefined;
    const distinctId = options.dedupeBy === 'canonical' ? graph.canonical(row.distinctId) : row.distinctId;
    return `${row.event}\u0000${distinctId}\u0000${row.time}\u0000${row.insertId}`;
  };
  const latest = new Map<string, number>();
  for (const row of rows) {
    const key = keyOf(row);
    if (key !== undefined && (latest.get(key) ?? 0) < row.seq) latest.set(key, row.seq);
  }
  const limit = options.limit ?? DEFAULT_LIMIT;
  const events: FeedEvent[] = [];
  for (const row of rows) {
    const key = keyOf(row);
    const duplicate = key !== undefined && latest.get(key) !== row.seq;
    if (duplicate && !options.raw) continue;
    if (events.length === limit) break;
    events.push(toFeedEvent(row, graph, options.raw ? duplicate : undefined));
  }
  return events;
}

function toFeedEvent(row: StoredEvent, graph: IdentityGraph, duplicate: boolean | undefined): FeedEvent {
  const distinctId = graph.canonical(row.distinctId);
  const properties = JSON.parse(row.properties) as Record<string, unknown>;
  if (distinctId !== row.distinctId) {
    properties.distinct_id = distinctId;
    properties.$distinct_id_before_identity = row.distinctId;
    properties.$is_reshuffled = true;
  }
  return {
    event: row.event,
    time: row.time,
    insert_id: row.insertId,
    device_id: row.deviceId,
    user_id: row.userId,
    original_distinct_id: row.distinctId,
    distinct_id: distinctId,
    properties,
    ...(duplicate !== undefined ? { duplicate } : {}),
  };
}

/** `GET /api/users`: every cluster (identified and device-only) with counts, most recently active first. */
export function listClusters(store: CollectorStore): ClusterView[] {
  const graph = store.graph;
  const counts = new Map(store.summaries().map((summary) => [summary.distinctId, summary]));
  const view = (canonical: string, userId: string | null, deviceIds: string[]): ClusterView => {
    let events = 0;
    let first: number | null = null;
    let last: number | null = null;
    for (const distinctId of graph.cluster(canonical)) {
      const summary = counts.get(distinctId);
      if (!summary) continue;
      events += summary.events;
      first = first === null ? summary.firstTime : Math.min(first, summary.firstTime);
      last = last === null ? summary.lastTime : Math.max(last, summary.lastTime);
    }
    return { distinct_id: canonical, user_id: userId, device_ids: deviceIds, event_count: events, first_time: first, last_time: last };
  };
  const clusters: ClusterView[] = [];
  for (const userId of graph.users()) clusters.push(view(userId, userId, graph.devicesOf(userId)));
  for (const deviceId of graph.anonymousDevices()) clusters.push(view(`$device:${deviceId}`, null, [deviceId]));
  return clusters.sort((a, b) => (b.last_time ?? -Infinity) - (a.last_time ?? -Infinity) || (a.distinct_id < b.distinct_id ? -1 : 1));
}

/** Routes `GET /api/...`: identity, events, users, profiles; and the doctor's report. */
export function answerQuery(path: string, url: URL, store: CollectorStore, config: CollectorConfig): Reply {
  const params = url.searchParams;
  const tail = (prefix: string): string | undefined => {
    if (!path.startsWith(prefix) || path.length === prefix.length) return undefined;
    return decodeURIComponent(path.slice(prefix.length));
  };
  try {
    return route(path, params, store, config, tail);
  } catch (error) {
    if (error instanceof URIError) return failure(400, 'the id in the path is not valid percent-encoding');
    throw error;
  }
}

function route(
  path: string,
  params: URLSearchParams,
  store: CollectorStore,
  config: CollectorConfig,
  tail: (prefix: string) => string | undefined,
): Reply {
  const identityId = tail('/api/identity/');
  if (identityId !== undefined) {
    const identity = lookupIdentity(store.graph, identityId);
    return identity ? json(200, identity) : failure(404, `no user or device has the id ${JSON.stringify(identityId)}`);
  }
  if (path === '/api/events') {
    const id = params.get('distinct_id');
    if (id === null || id === '') return failure(400, 'give ?distinct_id=<user id, device id or $device:id>');
    const limit = readLimit(params.get('limit'));
    if (limit === undefined) return failure(400, `limit must be an integer from 1 to ${MAX_LIMIT}`);
    const raw = params.get('raw') === '1' || params.get('raw') === 'true';
    const events = clusterEvents(store, id, { raw, dedupeBy: config.dedupeBy, limit: limit + 1 });
    if (!events) return failure(404, `no user or device has the id ${JSON.stringify(id)}`);
    // One more than asked says whether the list was cut.
    return events.length > limit ? json(200, { events: events.slice(0, limit), truncated: true }) : json(200, { events });
  }
  if (path === '/api/users') {
    const users = listClusters(store);
    return json(200, { users });
  }
  if (path === '/api/doctor') {
    const examples = readExamples(params.get('examples'));
    if (examples === undefined) return failure(400, `examples must be an integer from 0 to ${MAX_EXAMPLES}`);
    return json(200, diagnoseStore(store, config.storage, examples));
  }
  const profileId = tail('/api/profiles/');
  if (profileId !== undefined) {
    const profile = store.getProfile(profileId);
    if (!profile) return failure(404, `no profile has the distinct_id ${JSON.stringify(profileId)}`);
    return json(200, { distinct_id: profileId, properties: profile.properties, last_seen: profile.lastSeen });
  }
  return failure(404, `no such query endpoint: ${path}`);
}

function readExamples(value: string | null): number | undefined {
  if (value === null) return DOCTOR_DEFAULTS.examples;
  const examples = Number(value);
  return /^\d+$/.test(value) && examples <= MAX_EXAMPLES ? examples : undefined;
}

function readLimit(value: string | null): number | undefined {
  if (value === null) return DEFAULT_LIMIT;
  const limit = Number(value);
  return Number.isInteger(limit) && limit >= 1 && limit <= MAX_LIMIT ? limit : undefined;
}
