import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { diagnoseStore } from './doctor-source.js';
import { constantHtml, html, pageHref, type SafeHtml } from './html.js';
import { ASSIGNED_ALREADY, DEVICE_PREFIX, IDENTITY_EVENTS } from '../id-merge.js';
import type { CollectorConfig } from './options.js';
import { PAGE_SCRIPT, PAGE_STYLE } from './page-assets.js';
import { clusterSvg, DEVICES_DRAWN, events } from './page-cluster.js';
import { doctorPanel, PAGE_EXAMPLES } from './page-doctor.js';
import { clusterEvents, listClusters, type ClusterView, type FeedEvent } from './query.js';
import type { CollectorStore } from './store.js';

/** Clusters listed per group in the sidebar; the search box finds the rest. */
const SIDEBAR_LIMIT = 200;
/** Events in the feed of one user; the query API pages through the rest. */
const FEED_LIMIT = 1000;

/** Whether a `GET /` wants the page (a browser) rather than the JSON index (curl, scripts). */
export function wantsHtml(accept: string | undefined): boolean {
  return accept !== undefined && /\btext\/html\b/i.test(accept);
}

/**
 * Writes an HTML response. The CSP allows only this response's own style and script (by nonce), so even
 * a value that escaped escaping could not run; escaping (html.ts) remains the real defence.
 */
export function sendPage(
  response: ServerResponse,
  status: number,
  render: (nonce: string) => SafeHtml,
  headers: Record<string, string> = {},
): void {
  const nonce = randomBytes(16).toString('base64');
  const body = render(nonce).toString();
  response.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'content-security-policy': `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(body);
}

/** What a browser shows when the collector has a token and the viewer gave none (or a wrong one). */
export function unauthorizedPage(nonce: string): SafeHtml {
  return layout(
    nonce,
    'Sign in',
    html`<main><section class="notice">
    <p>This collector was started with a token. Sign in with the project token as the user name and an empty password
    (the same Basic credentials <code>/import</code> and <code>/api/*</code> take).</p></section></main>`,
  );
}

/**
 * `GET /` for a browser: the users, the selected user's identity cluster and activity feed;
 * with `?view=doctor`, the doctor's QA report instead (computed only when asked, as it reads every event).
 */
export function collectorPage(store: CollectorStore, config: CollectorConfig, url: URL, baseUrl: string, nonce: string): SafeHtml {
  const clusters = listClusters(store);
  const users = clusters.filter((cluster) => cluster.user_id !== null);
  const devices = clusters.filter((cluster) => cluster.user_id === null);
  const asked = url.searchParams.get('distinct_id') ?? '';
  // A search from the doctor's page opens that user, like anywhere else.
  const doctor = url.searchParams.get('view') === 'doctor' && asked === '';
  const selected = asked !== '' ? asked : doctor ? undefined : (users[0] ?? devices[0])?.distinct_id;
  const exact = selected === undefined ? undefined : store.graph.lookup(selected);
  // The page shows long ids cut to their first characters: a search for what it shows finds them.
  const matches = exact === undefined && asked !== '' ? startingWith(clusters, asked) : [];
  const found = exact ?? (matches.length === 1 ? store.graph.lookup(matches[0]!.distinct_id) : undefined);
  const total = clusters.reduce((sum, cluster) => sum + cluster.event_count, 0);
  const nameOf = (distinctId: string): string | undefined => {
    const name = store.getProfile(distinctId)?.properties.$name;
    return typeof name === 'string' && name.trim() !== '' ? name : undefined;
  };

  let body: SafeHtml;
  if (doctor) body = doctorPanel(diagnoseStore(store, config.storage, PAGE_EXAMPLES), (id) => store.graph.lookup(id) !== undefined);
  else if (clusters.length === 0) body = gettingStarted(baseUrl);
  else if (matches.length > 1) {
    body = html`<section class="notice">${matches.length} users and devices have ids starting with <code>${asked}</code>:
      ${matches.slice(0, 20).map((match, i) => html`${i > 0 ? ', ' : ''}<a href="${pageHref({ distinct_id: match.distinct_id })}"><code>${match.distinct_id}</code></a>`)}</section>`;
  } else if (!found) body = html`<section class="notice">No user or device has the id <code>${asked}</code>.</section>`;
  else body = clusterDetail(store, config, found);

  return layout(
    nonce,
    doctor ? 'Doctor' : found ? (found.userId ?? found.canonical) : 'Users',
    html`<header>
      <h1>idstitch collector <span>· Simplified ID Merge, locally</span></h1>
      <div class="stats"><b>${users.length}</b> ${users.length === 1 ? 'user' : 'users'} · <b>${devices.length}</b> anonymous
        ${devices.length === 1 ? 'device' : 'devices'} · <b>${total}</b> ${total === 1 ? 'event' : 'events'}</div>
      <label><input type="checkbox" id="auto-refresh"> auto-refresh</label>
      <a href="?view=doctor"${doctor ? html` aria-current="page"` : html``}>Doctor</a>
      <a href="${doctor ? '/api/doctor' : '/api/users'}">JSON</a>
    </header>
    <div class="layout">
      <nav aria-label="Users">
        <form method="get" action="/" role="search"><input type="search" name="distinct_id" placeholder="user id, device id or $device:id" aria-label="Find a user or device" value="${asked}"><button>Find</button></form>
        ${sidebarGroup('Users', 'users', users, found?.canonical, nameOf)}
        ${sidebarGroup('Anonymous devices', 'anonymous-devices', devices, found?.canonical, nameOf)}
      </nav>
      <main>${body}</main>
    </div>`,
  );
}

function layout(nonce: string, title: string, content: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · idstitch collector</title><link rel="icon" href="data:,">
<style nonce="${nonce}">${constantHtml(PAGE_STYLE)}</style></head>
<body>${content}
<script nonce="${nonce}">${constantHtml(PAGE_SCRIPT)}</script></body></html>`;
}

/** The clusters whose user id or one of whose device ids starts with `query` (a `$device:` prefix and a trailing `…` allowed). */
function startingWith(clusters: readonly ClusterView[], query: string): ClusterView[] {
  const prefix = query.trim().replace(/…$/, '');
  if (prefix === '') return [];
  const device = prefix.startsWith(DEVICE_PREFIX) ? prefix.slice(DEVICE_PREFIX.length) : prefix;
  return clusters.filter(
    (cluster) => cluster.user_id?.startsWith(prefix) === true || cluster.device_ids.some((id) => id.startsWith(device)),
  );
}

function sidebarGroup(
  title: string,
  id: string,
  clusters: readonly ClusterView[],
  current: string | undefined,
  nameOf: (distinctId: string) => string | undefined,
): SafeHtml {
  if (clusters.length === 0) return html``;
  const shown = clusters.slice(0, SIDEBAR_LIMIT);
  const items = shown.map((cluster) => {
    const devices = cluster.device_ids.length;
    const detail = cluster.user_id === null ? 'anonymous' : `${devices} ${devices === 1 ? 'device' : 'devices'}`;
    const name = nameOf(cluster.distinct_id);
    return html`<li><a href="${pageHref({ distinct_id: cluster.distinct_id })}"${cluster.distinct_id === current ? html` aria-current="page"` : html``}>
      ${name === undefined ? html`` : html`<span class="name">${name}</span>`}<span class="mono">${cluster.distinct_id}</span><small>${detail} · ${events(cluster.event_count)}${cluster.last_time === null ? '' : html` · <time datetime="${iso(cluster.last_time)}" data-relative>${clock(cluster.last_time)}</time>`}</small></a></li>`;
  });
  const more = clusters.length - shown.length;
  return html`<h2 id="${id}">${title} (${clusters.length})</h2><ul aria-labelledby="${id}">${items}</ul>${more > 0 ? html`<p>${more} more: find them by id.</p>` : html``}`;
}

interface Found {
  readonly canonical: string;
  readonly userId: string | null;
  readonly deviceIds: string[];
}

function clusterDetail(store: CollectorStore, config: CollectorConfig, found: Found): SafeHtml {
  const feed = clusterEvents(store, found.canonical, { dedupeBy: config.dedupeBy, limit: FEED_LIMIT + 1 }) ?? [];
  const cut = feed.length > FEED_LIMIT;
  if (cut) feed.pop();
  const summaries = new Map(store.summaries().map((summary) => [summary.distinctId, summary]));
  const stored = (distinctId: string) => summaries.get(distinctId);
  const ids = store.graph.cluster(found.canonical);
  const count = ids.reduce((sum, id) => sum + (stored(id)?.events ?? 0), 0);
  const duplicates = ids.reduce((sum, id) => sum + (stored(id)?.rawEvents ?? 0) - (stored(id)?.events ?? 0), 0);
  const picture = clusterSvg({
    userId: found.userId,
    devices: found.deviceIds.map((id) => ({ id, anonymousEvents: stored(DEVICE_PREFIX + id)?.events ?? 0 })),
    userEvents: found.userId === null ? 0 : (stored(found.userId)?.events ?? 0),
  });
  const rows = feedTable(feed, found, store);
  const retroactive = rows.retroactive;
  const rawHref = `/api/events?${new URLSearchParams({ distinct_id: found.canonical, raw: '1' })}`;

  return html`<h2>${found.userId ?? found.canonical}</h2>
    <p class="subtitle">${found.userId === null ? 'Anonymous device: no event has carried it with a $user_id yet.' : html`User · distinct_id <code>${found.canonical}</code>`}</p>
    <section aria-labelledby="cluster-title"><h3 id="cluster-title">Identity cluster <small>${found.deviceIds.length} ${found.deviceIds.length === 1 ? 'device' : 'devices'}${found.userId === null ? '' : html` → 1 user`}</small></h3>
      ${picture}
      ${found.deviceIds.length > DEVICES_DRAWN ? html`<details><summary>All ${found.deviceIds.length} devices</summary><ul>${found.deviceIds.map((id) => html`<li><code>${id}</code></li>`)}</ul></details>` : html``}
    </section>
    ${profileSection(store, found)}
    <section aria-labelledby="feed-title"><h3 id="feed-title">Activity feed <small>${events(count)} in time order${retroactive > 0 ? ` · ${retroactive} retroactively attributed` : ''}${duplicates > 0 ? html` · ${duplicates} ${duplicates === 1 ? 'duplicate' : 'duplicates'} hidden (<a href="${rawHref}">raw view</a>)` : html``}</small></h3>
      ${retroactive > 0 ? html`<p class="legend"><span class="badge retro">retroactively attributed</span> events were sent with only a <code>$device_id</code>, before an event carried that device together with a <code>$user_id</code>. They keep the <code>distinct_id</code> they were sent with and resolve to the user when queried, as Mixpanel attributes them.</p>` : html``}
      ${feed.length === 0 ? html`<p class="empty">No events.</p>` : rows.table}
      ${cut ? html`<p class="empty">Showing the first ${FEED_LIMIT}; <a href="${`/api/events?${new URLSearchParams({ distinct_id: found.canonical, limit: String(count) })}`}">the query API</a> has them all.</p>` : html``}
    </section>`;
}

function feedTable(feed: readonly FeedEvent[], found: Found, store: CollectorStore): { table: SafeHtml; retroactive: number } {
  // When each device's link shows in the feed: its first event carrying the device and this user.
  const linkTime = new Map<string, number>();
  for (const event of feed) {
    if (event.device_id !== null && event.user_id === found.userId && !linkTime.has(event.device_id))
      linkTime.set(event.device_id, event.time);
  }
  const linked = new Set<string>();
  const rows = feed.map((event, index) => {
    const resolved = event.original_distinct_id !== event.distinct_id;
    // Sent as the device before the link: the guide's "retroactively updated". After it, the link routes it.
    const retro = resolved && event.time < (event.device_id === null ? Infinity : (linkTime.get(event.device_id) ?? Infinity));
    const marks: SafeHtml[] = [];
    if (retro) {
      marks.push(
        html`<span class="badge retro" title="${`Sent as ${event.original_distinct_id}, before anything linked this device to ${event.distinct_id}; resolved to the user when queried`}">retroactively attributed</span>`,
      );
    } else if (resolved) {
      marks.push(
        html`<span class="badge via" title="${`Sent as ${event.original_distinct_id}, after the device was linked to ${event.distinct_id}`}">via the device's link</span>`,
      );
    }
    const verb = IDENTITY_EVENTS.has(event.event);
    if (verb) marks.push(html`<span class="badge verb" title="Original ID Merge verb: stored as a plain event">no identity effect</span>`);
    const { device_id: device, user_id: user } = event;
    if (device !== null && user !== null && !verb) {
      if (event.properties.$identity_failure_reason === ASSIGNED_ALREADY) {
        marks.push(
          html`<span class="badge conflict" title="First link wins: the device stays with its first user">device already linked to ${abbreviate(store.graph.userOf(device) ?? '?')}: not relinked</span>`,
        );
      } else if (user === found.userId && !linked.has(device)) {
        linked.add(device);
        marks.push(
          html`<span class="badge link" title="${`The first event carrying ${device} and ${user} linked them`}">links ${abbreviate(device)} ⇒ ${abbreviate(user)}</span>`,
        );
      }
    }
    const properties = JSON.stringify(event.properties, null, 2);
    return {
      retro,
      html: html`<tr${retro ? html` class="retro"` : html``}>
      <td class="n">${index + 1}</td>
      <td class="time"><time datetime="${iso(event.time)}">${shortTime(event.time)}</time></td>
      <td class="event"><details><summary>${event.event}</summary><pre>${properties}</pre></details></td>
      <td class="ids" data-label="$device_id">${device === null ? html`<span class="empty">—</span>` : code(device)}</td>
      <td class="ids" data-label="$user_id">${user === null ? html`<span class="empty">—</span>` : code(user)}</td>
      <td class="ids" data-label="distinct_id">${code(event.original_distinct_id)}${resolved ? html`<span class="arrow">⇒</span>${code(event.distinct_id)}` : html``}</td>
      <td class="notes">${marks}</td></tr>`,
    };
  });
  const retroactive = rows.filter((row) => row.retro).length;
  return {
    retroactive,
    table: html`<table class="feed"><thead><tr><th>#</th><th>Time</th><th>Event</th><th>$device_id</th><th>$user_id</th><th>distinct_id (sent ⇒ now)</th><th>Notes</th></tr></thead>
    <tbody>${rows.map((row) => row.html)}</tbody></table>`,
  };
}

function profileSection(store: CollectorStore, found: Found): SafeHtml {
  const profile = store.getProfile(found.canonical);
  // Mixpanel keeps profiles per exact distinct_id and does not carry anonymous ones over (contract §5.7).
  const deviceProfiles =
    found.userId === null ? [] : found.deviceIds.map((id) => DEVICE_PREFIX + id).filter((id) => store.getProfile(id) !== undefined);
  const entries = profile ? Object.entries(profile.properties).sort(([a], [b]) => (a < b ? -1 : 1)) : [];
  return html`<section aria-labelledby="profile-title"><h3 id="profile-title">Profile <small>${found.canonical}${profile?.lastSeen ? html` · last seen <time datetime="${iso(profile.lastSeen)}">${shortTime(profile.lastSeen)}</time>` : html``}</small></h3>
    ${
      entries.length === 0
        ? html`<p class="empty">${profile ? 'The profile has no properties.' : 'No profile: nothing was sent to /engage for this distinct_id.'}</p>`
        : html`<dl class="profile">${entries.map(([key, value]) => html`<dt>${key}</dt><dd>${typeof value === 'string' ? value : JSON.stringify(value)}</dd>`)}</dl>`
    }
    ${deviceProfiles.length > 0 ? html`<p class="empty">Also a profile on ${deviceProfiles.map((id, i) => html`${i > 0 ? ', ' : ''}<a href="${pageHref({ distinct_id: id })}"><code>${id}</code></a>`)}: Mixpanel keeps it apart and does not merge it into the user's.</p>` : html``}
  </section>`;
}

function gettingStarted(baseUrl: string): SafeHtml {
  const snippet = `import { tracking } from 'idstitch/express';   // or idstitch/koa; nextTracking from idstitch/next\napp.use(tracking({ apiHost: '${baseUrl}', token: 'dev' }));`;
  return html`<h2>No events yet</h2>
    <section><p>Point your app's middleware at this collector and its users appear here, with their identity clusters and activity.</p>
      <pre class="mono">${snippet}</pre>
      <p>Or run <code>idstitch demo</code> to replay the guide's three flows.</p></section>`;
}

/** The time of day, for the sidebar until the script says "3 min ago". */
function clock(ms: number): string {
  return iso(ms).slice(11, 19) + ' UTC';
}

/** Ids longer than this are shortened in the feed (a UUID device id would crowd the table out); the full id is in the tooltip. */
const LONG_ID = 24;

function abbreviate(id: string): string {
  const prefix = id.startsWith(DEVICE_PREFIX) ? DEVICE_PREFIX : '';
  const characters = Array.from(id.slice(prefix.length)); // whole code points: never half a surrogate pair
  return id.length > LONG_ID ? `${prefix}${characters.slice(0, 8).join('')}…` : id;
}

function code(id: string): SafeHtml {
  const short = abbreviate(id);
  return short === id ? html`<code>${id}</code>` : html`<code title="${id}">${short}</code>`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** UTC until the script shows it in the viewer's zone. */
function shortTime(ms: number): string {
  return iso(ms)
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}
