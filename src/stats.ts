/** Why an event left the pipeline without being ingested. Each is a counter in `stats().dropped`. */
export type DropReason =
  | 'invalid_event' // refused by track(): bad name, properties or size
  | 'queue_full' // the queue held maxQueueSize events or maxQueueBytes bytes
  | 'not_configured' // no token and no apiHost: nothing is ever sent
  | 'tracker_closed' // track() after shutdown()
  | 'rejected' // the API refused the records (400, or a /track `0`)
  | 'unauthorized' // 401/403: wrong token or credentials
  | 'too_large' // a single event the API answered 413 for
  | 'retries_exhausted' // still failing after maxRetries
  | 'shutdown_timeout' // still unsent when shutdown()'s deadline passed
  | 'opted_out'; // the request opted out (Sec-GPC, DNT when honoured, or privacy.consent): never built or sent

/** Profile updates (`/engage`), counted apart from events. */
export interface ProfileStats {
  /** Updates accepted for identified users, queued for `/engage`. */
  tracked: number;
  delivered: number;
  queued: number;
  requests: number;
  retries: number;
  /** Updates that will never be delivered, by reason (`invalid_event`: an invalid update). */
  dropped: Record<DropReason, number>;
  /** Updates made while the browser was anonymous, held in its profile cookie until sign-in. */
  held: number;
  /** Held updates sent when the browser's user signed in. */
  released: number;
  /** Updates made while anonymous that could not be held: the cookie was full, or could not be written. */
  notHeld: number;
}

/** What one pipeline (events to `/import`, or profile updates to `/engage`) counts. */
export interface PipelineCounters {
  /** Accepted into the queue. */
  tracked: number;
  /** Confirmed by the API. */
  delivered: number;
  /** HTTP requests made (first attempts and retries). */
  requests: number;
  /** Requests that were retries. */
  retries: number;
  /** Batches split after a 413. */
  splits: number;
  /** Request body bytes (after gzip) of every attempt. */
  bytesSent: number;
  /** Never to be delivered, by reason. */
  dropped: Record<DropReason, number>;
}

export function createPipelineCounters(): PipelineCounters {
  return { tracked: 0, delivered: 0, requests: 0, retries: 0, splits: 0, bytesSent: 0, dropped: zeroDrops() };
}

export interface TrackerStats {
  /** Events accepted by track() into the queue. */
  tracked: number;
  /** Events the API confirmed. */
  delivered: number;
  /** Events held now: queued, in flight or waiting to retry. */
  queued: number;
  /** HTTP requests made (first attempts and retries). */
  requests: number;
  /** Requests that were retries. */
  retries: number;
  /** Batches split after a 413. */
  splits: number;
  /** Request body bytes (after gzip) of every attempt, retries and attempts that never connected included. */
  bytesSent: number;
  /** Events that will never be delivered, by reason. */
  dropped: Record<DropReason, number>;
  profiles: ProfileStats;
  identity: IdentityCounters;
}

/** What happened to browsers' identities, request by request. */
export interface IdentityCounters {
  /** Device id cookies written for requests that came without a valid one (counted when the cookie goes out). */
  issued: number;
  /** Device ids rotated by resetUser(). */
  rotated: number;
  /** Device ids replaced because a different user signed in without a logout (`guardUserSwitch`). */
  switched: number;
  /** Cookies present but malformed (replaced, never trusted). */
  invalidCookies: number;
  /** Cookies that could not be written because headers were already sent. */
  cookieAfterHeadersSent: number;
  /** Links (a user signing in on a device) the device cookie could not record; the tracker keeps them for the browser's next request. */
  linksNotRecorded: number;
  /** Such links forgotten because the tracker already kept its bound (`MAX_REMEMBERED_LINKS`, 10,000). */
  linksForgotten: number;
  /** Requests whose new or rotated device id could not be stored: the response was read-only (Next.js Server Components). */
  unwritable: number;
  /** User ids refused (deny-listed, empty, too long, wrong type) and treated as anonymous. */
  invalidUserIds: number;
  /** getUserId calls that threw or returned a promise. */
  userIdResolverErrors: number;
  /** Requests opted out by `Sec-GPC: 1`, `DNT: 1` (with `privacy.dnt`) or `privacy.consent`: no cookie, nothing sent. */
  optedOut: number;
  /** Requests whose device id came from mixpanel-browser's cookie (`deviceIdFrom`). */
  fromBrowserSdk: number;
  /** mixpanel-browser cookies present but unusable (too long, not JSON, no valid `$device_id`): idstitch's own cookie was used. */
  invalidBrowserSdkCookies: number;
  /** resetUser() on a device id mixpanel-browser owns: the browser keeps that id until the page calls `mixpanel.reset()`. */
  browserSdkResets: number;
}

export function createIdentityCounters(): IdentityCounters {
  return {
    issued: 0,
    rotated: 0,
    switched: 0,
    invalidCookies: 0,
    cookieAfterHeadersSent: 0,
    linksNotRecorded: 0,
    linksForgotten: 0,
    unwritable: 0,
    invalidUserIds: 0,
    userIdResolverErrors: 0,
    optedOut: 0,
    fromBrowserSdk: 0,
    invalidBrowserSdkCookies: 0,
    browserSdkResets: 0,
  };
}

function zeroDrops(): Record<DropReason, number> {
  return {
    invalid_event: 0,
    queue_full: 0,
    not_configured: 0,
    tracker_closed: 0,
    rejected: 0,
    unauthorized: 0,
    too_large: 0,
    retries_exhausted: 0,
    shutdown_timeout: 0,
    opted_out: 0,
  };
}

/** The counters a request's scope writes: its events' and profile updates' drops, identity, held profiles. */
export interface ScopeCounters {
  readonly dropped: Record<DropReason, number>;
  readonly identity: IdentityCounters;
  readonly profiles: { held: number; released: number; notHeld: number; readonly dropped: Record<DropReason, number> };
}
