import { gzipSync } from 'node:zlib';
import { afterEach } from 'vitest';
import { startCollector, type Collector, type CollectorOptions } from '../../src/collector/index.js';

/** Collectors started by a test file, closed after each test. */
const running: Collector[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((collector) => collector.close()));
});

/** A collector on a free port with in-memory storage, closed after the test. */
export async function collector(options: CollectorOptions = {}): Promise<Collector> {
  const started = await startCollector({
    port: 0,
    onError: (error) => {
      throw error;
    },
    ...options,
  });
  running.push(started);
  return started;
}

export interface Sent {
  readonly status: number;
  readonly text: string;
  readonly headers: Headers;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: any;
}

export interface SendOptions {
  readonly method?: 'GET' | 'POST' | 'DELETE' | 'OPTIONS';
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
}

/** One real HTTP request to the collector. */
export async function send(base: string, path: string, options: SendOptions = {}): Promise<Sent> {
  const response = await fetch(base + path, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers: options.headers,
    body: options.body,
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, headers: response.headers, json };
}

let counter = 0;
/** Events get increasing times from two hours ago, so ingestion order and time order agree unless a test says otherwise. */
const BASE_TIME = Date.now() - 2 * 60 * 60 * 1000;

/** An event as our tracker sends it: time in ms, a fresh `$insert_id`, `distinct_id: ""`, the given ids. */
export function event(
  name: string,
  ids: { device?: string; user?: string; time?: number } = {},
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  counter++;
  return {
    event: name,
    properties: {
      time: ids.time ?? BASE_TIME + counter,
      $insert_id: `ins-${process.pid}-${counter}`,
      distinct_id: '',
      ...(ids.device !== undefined ? { $device_id: ids.device } : {}),
      ...(ids.user !== undefined ? { $user_id: ids.user } : {}),
      ...extra,
    },
  };
}

/** POST a JSON array to strict `/import`. */
export function importEvents(base: string, events: unknown[], headers: Record<string, string> = {}, query = 'strict=1'): Promise<Sent> {
  return send(base, `/import?${query}`, { body: JSON.stringify(events), headers: { 'content-type': 'application/json', ...headers } });
}

/** POST a JSON array to `/track`. */
export function trackEvents(base: string, events: unknown[], query = 'verbose=1'): Promise<Sent> {
  return send(base, `/track?${query}`, { body: JSON.stringify(events), headers: { 'content-type': 'application/json' } });
}

export function basic(username: string, password = ''): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
}

export function gzipJson(value: unknown): Buffer {
  return gzipSync(JSON.stringify(value));
}

/** GET a query-API path and return its JSON. */
export async function query(base: string, path: string, headers: Record<string, string> = {}): Promise<Sent> {
  return send(base, path, { headers });
}

/** The feed of the cluster `id` belongs to, as `[event, original_distinct_id, distinct_id]` rows. */
export async function feed(base: string, id: string): Promise<Array<[string, string, string]>> {
  const response = await send(base, `/api/events?distinct_id=${encodeURIComponent(id)}`);
  if (response.status !== 200) throw new Error(`feed of ${id}: ${response.status} ${response.text}`);
  return (response.json.events as Array<{ event: string; original_distinct_id: string; distinct_id: string }>).map((e) => [
    e.event,
    e.original_distinct_id,
    e.distinct_id,
  ]);
}

/** The identity view of an id: `{ distinct_id, user_id, device_ids }`, or the status when not 200. */
export async function identity(base: string, id: string): Promise<unknown> {
  const response = await send(base, `/api/identity/${encodeURIComponent(id)}`);
  return response.status === 200 ? response.json : response.status;
}
