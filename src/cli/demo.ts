import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import { coreOf } from '../adapter.js';
import type { FeedEvent, IdentityView } from '../collector/query.js';
import { startCollector, type Collector } from '../collector/server.js';
import type { TrackerCore } from '../core.js';
import { DEVICE_PREFIX } from '../id-merge.js';
import { DEFAULTS } from '../options.js';
import { NodeRequestContext } from '../request-context.js';
import { createTracker } from '../tracker.js';
import { FlowTables, type DemoCorrection, type DemoFlow, type IdentityState, type StepNotes } from './demo-table.js';

export { formatDemo, type DemoFlow, type DemoStage, type DemoRow, type DemoCorrection } from './demo-table.js';

/** One thing a person does in the demo app, through their browser's cookies. */
type Step = StepNotes & ({ readonly visit: string } | { readonly login: string } | { readonly logout: true });

interface Stage {
  readonly title: string;
  /** Whose cookie jar: one per device. */
  readonly browser: string;
  readonly steps: readonly Step[];
}

interface Flow {
  readonly title: string;
  /** Flows about the same people share labels and show each other's events (the guide's Returning User continues New User Signup). */
  readonly people: string;
  readonly stages: readonly Stage[];
}

/** The guide's three flows ("Identifying Users (Simplified)"), as requests to an app using the Express middleware. */
const FLOWS: readonly Flow[] = [
  {
    title: 'New user signup',
    people: 'alice',
    stages: [
      {
        title: 'A visitor lands on a new device and looks around: events carry only $device_id.',
        browser: 'laptop',
        steps: [{ visit: '/' }, { visit: '/pricing' }],
      },
      {
        title: "The visitor signs up; the app calls identifyUser(req, 'alice'), which sends one event with both ids.",
        browser: 'laptop',
        steps: [{ login: 'alice', guide: 'Links D1 ⇒ U1, D1 and U1 are inside one ID cluster' }],
      },
    ],
  },
  {
    title: 'Returning user',
    people: 'alice',
    stages: [
      {
        title: 'The same person comes back on a new device and has not logged in yet.',
        browser: 'phone',
        steps: [{ visit: '/', note: 'New device {device}' }, { visit: '/pricing' }],
      },
      {
        title: "They log in; identifyUser(req, 'alice') links the new device to the same user.",
        browser: 'phone',
        steps: [{ login: 'alice', guide: 'Links D2 ⇒ U1, D1, D2, and U1 are inside one ID cluster' }],
      },
    ],
  },
  {
    title: 'Multiple users, one device',
    people: 'shared device',
    stages: [
      { title: 'A first person starts using a new device.', browser: 'shared', steps: [{ visit: '/' }] },
      {
        title: "They log in: identifyUser(req, 'bob').",
        browser: 'shared',
        steps: [{ login: 'bob', guide: 'Links D1 ⇒ U1, D1 and U1 are inside one ID cluster' }],
      },
      {
        title: 'They log out: resetUser(req) gives the browser a new device id. A second person browses with it.',
        browser: 'shared',
        steps: [{ logout: true }, { visit: '/', note: 'Reset generated new ID: {device}' }, { visit: '/pricing' }],
      },
      {
        title: "The second person logs in: identifyUser(req, 'carol').",
        browser: 'shared',
        steps: [
          {
            login: 'carol',
            guide: 'Links D2 ⇒ U2, D1, D2, and U1 are inside one ID cluster',
            whyGuideDiffers:
              'A cluster holds one $user_id and two user ids never merge; D2 was only ever seen with U2, D1 only with U1. ' +
              'So there are two clusters, {D1, U1} and {D2, U2}, as the guide\'s own "$device:D2 ⇒ U2" rows and its FAQ ("It is not possible to merge 2 $user_ids") imply.',
          },
        ],
      },
    ],
  },
];

const PAGES: Readonly<Record<string, string>> = { '/': 'Viewed Home', '/pricing': 'Viewed Pricing' };
/** The demo app's login cookie; its value is the user id, as a session would resolve it. */
const SESSION = 'demo_user';

/**
 * Replays the guide's three flows through the Express middleware (on bare node:http) into `collector`,
 * over real HTTP with one cookie jar per device, and reads each stage back from the collector's query
 * API as the guide's tables. `collector` should be empty: the flows' user ids are fixed.
 */
export async function runDemo(collector: Collector): Promise<DemoFlow[]> {
  const problems: string[] = [];
  const tracker = createTracker({
    apiHost: collector.url,
    token: collector.config.token ?? 'demo',
    logger: false,
    onError: (error) => problems.push(`${error.code}: ${error.message}`),
    flushIntervalMs: 60_000, // each stage flushes explicitly before reading the collector
  });
  const app = createServer((req, res) => demoApp(coreOf(tracker), req, res));
  const appUrl = await listen(app);
  const api = collectorApi(collector);
  const browsers = new Map<string, Browser>();
  const people = new Map<string, { tables: FlowTables; devices: string[]; users: string[] }>();
  const flows: DemoFlow[] = [];
  try {
    for (const flow of FLOWS) {
      let group = people.get(flow.people);
      if (!group) people.set(flow.people, (group = { tables: new FlowTables(), devices: [], users: [] }));
      const { tables, devices, users } = group;
      const stages: DemoFlow['stages'] = [];
      const corrections: DemoCorrection[] = [];
      let state: IdentityState | undefined;
      for (const stage of flow.stages) {
        let browser = browsers.get(stage.browser);
        if (!browser) browsers.set(stage.browser, (browser = new Browser(appUrl)));
        const sent: StepNotes[] = [];
        for (const step of stage.steps) {
          if ('login' in step && !users.includes(step.login)) users.push(step.login);
          if ('login' in step) tables.labels.user(step.login);
          await nextMillisecond(); // one event per ms, so time order is the order of the steps
          await browser.perform(step);
          if (!('logout' in step)) sent.push(step);
          const device = browser.deviceId;
          if (device !== undefined && !devices.includes(device)) {
            devices.push(device);
            tables.labels.device(device);
          }
        }
        await tracker.flush();
        if (problems.length > 0) throw new Error(`the demo's tracker reported: ${problems.join('; ')}`);
        state = await api.state(devices, users);
        const table = tables.stage(stage.title, await api.events(devices, users), state, sent);
        stages.push(table.stage);
        corrections.push(...table.corrections.map((correction) => ({ ...correction, stage: stages.length - 1 })));
      }
      flows.push({
        title: flow.title,
        stages,
        clusters: tables.clusters(users, devices, state!),
        corrections,
        legend: tables.labels.legend(),
      });
    }
    return flows;
  } finally {
    await tracker.shutdown({ timeoutMs: 5000 });
    await new Promise<void>((resolve) => app.close(() => resolve()));
    app.closeAllConnections();
  }
}

/** Runs the demo against its own in-memory collector and returns the tables. */
export async function demoTables(): Promise<DemoFlow[]> {
  const collector = await startCollector({ port: 0, storage: ':memory:' });
  try {
    return await runDemo(collector);
  } finally {
    await collector.close();
  }
}

/**
 * The app, on bare node:http with the core's request scope (what every adapter builds on): pages that
 * track a view, login and logout. The session cookie plays the user id an auth library would give.
 */
function demoApp(core: TrackerCore, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://demo.invalid');
  const session = readCookie(req.headers.cookie, SESSION);
  const scope = core.scope(new NodeRequestContext(req, res), { req, defaultGetUserId: () => session });
  const user = url.searchParams.get('user');
  if (req.method === 'GET' && PAGES[url.pathname]) {
    scope.track(PAGES[url.pathname]!);
  } else if (req.method === 'POST' && url.pathname === '/login' && user) {
    scope.identify(user);
    res.appendHeader('set-cookie', `${SESSION}=${encodeURIComponent(user)}; Path=/; HttpOnly; SameSite=Lax`);
  } else if (req.method === 'POST' && url.pathname === '/logout') {
    scope.reset();
    res.appendHeader('set-cookie', `${SESSION}=; Path=/; Max-Age=0`);
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
}

/** A device: a cookie jar and the requests a person makes with it. */
class Browser {
  readonly #cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  /** The device id cookie the middleware gave this browser. */
  get deviceId(): string | undefined {
    // The cookie holds the id, then `.` and the signed-in user's tag once someone logged in.
    return this.#cookies.get(DEFAULTS.cookie.name)?.split('.')[0];
  }

  async perform(step: Step): Promise<void> {
    const [method, path] =
      'visit' in step
        ? ['GET', step.visit]
        : 'login' in step
          ? ['POST', `/login?user=${encodeURIComponent(step.login)}`]
          : ['POST', '/logout'];
    const cookie = [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(this.base + path, { method, headers: cookie ? { cookie } : {} });
    await response.text();
    if (!response.ok) throw new Error(`demo app: ${method} ${path} answered ${response.status}`);
    for (const header of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = header.split(';');
      const name = pair.slice(0, pair.indexOf('=')).trim();
      const value = pair.slice(pair.indexOf('=') + 1).trim();
      if (value === '' || attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a))) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
}

/** Reads the collector back through its query API, as a user of the collector would. */
function collectorApi(collector: Collector) {
  const token = collector.config.token;
  const headers: Record<string, string> =
    token === undefined ? {} : { authorization: 'Basic ' + Buffer.from(`${token}:`).toString('base64') };
  async function get<T>(path: string): Promise<T | undefined> {
    const response = await fetch(collector.url + path, { headers });
    if (response.status === 404) return (await response.text(), undefined);
    if (!response.ok) throw new Error(`collector: GET ${path} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as T;
  }
  return {
    /** Every event of these devices' and users' clusters, once each, in time order. */
    async events(devices: readonly string[], users: readonly string[]): Promise<FeedEvent[]> {
      const byKey = new Map<string, FeedEvent>();
      for (const id of [...devices.map((d) => DEVICE_PREFIX + d), ...users]) {
        const answer = await get<{ events: FeedEvent[] }>(`/api/events?distinct_id=${encodeURIComponent(id)}`);
        for (const event of answer?.events ?? []) byKey.set(event.insert_id ?? JSON.stringify(event), event);
      }
      return [...byKey.values()].sort((a, b) => a.time - b.time);
    },
    async state(devices: readonly string[], users: readonly string[]): Promise<IdentityState> {
      const owner = new Map<string, string | null>();
      for (const device of devices)
        owner.set(device, (await get<IdentityView>(`/api/identity/${encodeURIComponent(DEVICE_PREFIX + device)}`))?.user_id ?? null);
      const members = new Map<string, readonly string[]>();
      for (const user of users) members.set(user, (await get<IdentityView>(`/api/identity/${encodeURIComponent(user)}`))?.device_ids ?? []);
      return { userOfDevice: (device) => owner.get(device) ?? null, devicesOf: (user) => members.get(user) ?? [] };
    },
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function nextMillisecond(): Promise<void> {
  const start = Date.now();
  while (Date.now() === start) await tick();
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}
