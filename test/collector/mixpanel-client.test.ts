// The official `mixpanel` npm client (mixpanel-node) pointed at the collector: single calls go as GET
// with base64 `data` in the URL, batches as form POSTs, profiles as GET /engage (contract §1.7, §6).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import Mixpanel from 'mixpanel';
import { afterAll, describe, expect, it } from 'vitest';
import { basic, collector, feed, identity, send } from './helpers.js';

const TOKEN = 'mp-token';

/** A client on plain HTTP. mixpanel-node refuses `secret` and service accounts without HTTPS, so `/import` authenticates with its legacy `key` (`?api_key=`). */
function client(url: string, config: Record<string, unknown> = {}) {
  const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
  return Mixpanel.init(TOKEN, {
    host: new URL(url).host,
    protocol: 'http',
    verbose: true,
    logger: silent,
    ...config,
  } as Partial<Mixpanel.InitConfig>);
}

/** mixpanel-node's callbacks as promises: resolves with the error list (empty when every request said status 1). */
function done(call: (callback: (errors: unknown) => void) => void): Promise<unknown[]> {
  return new Promise((resolve) =>
    call((errors) => resolve(errors === undefined || errors === null ? [] : Array.isArray(errors) ? errors : [errors])),
  );
}

const auth = { authorization: basic(TOKEN) };
const HOUR = 60 * 60 * 1000;

describe('the official mixpanel client against the collector', () => {
  it('track: a GET with base64 data lands with the identity derived from $device_id and $user_id', async () => {
    const started = await collector({ token: TOKEN, wrongTokenOnTrack: 'reject' });
    const mixpanel = client(started.url);
    expect(await done((cb) => mixpanel.track('Viewed Home', { $device_id: 'dev-1', path: '/' }, cb))).toEqual([]);
    expect(await done((cb) => mixpanel.track('Signed Up', { $device_id: 'dev-1', $user_id: 'user-1' }, cb))).toEqual([]);
    // Classic server-side use: a bare distinct_id is the user.
    expect(await done((cb) => mixpanel.track('Paid', { distinct_id: 'user-1', amount: 5 }, cb))).toEqual([]);
    const events = started.store.allEvents();
    expect(events.map((e) => [e.event, e.endpoint])).toEqual([
      ['Viewed Home', 'track'],
      ['Signed Up', 'track'],
      ['Paid', 'track'],
    ]);
    expect(JSON.parse(events[0]!.properties)).toMatchObject({ token: TOKEN, mp_lib: 'node', path: '/' });
    expect((await send(started.url, '/api/events?distinct_id=dev-1')).status).toBe(401); // the query API needs the token
    const rows = (await send(started.url, '/api/events?distinct_id=dev-1', { headers: auth })).json.events.map((e: any) => [
      e.event,
      e.original_distinct_id,
      e.distinct_id,
    ]);
    expect(rows).toEqual([
      ['Viewed Home', '$device:dev-1', 'user-1'],
      ['Signed Up', 'user-1', 'user-1'],
      ['Paid', 'user-1', 'user-1'],
    ]);
  });

  it('track with another project token is refused, as a /track record carrying the wrong token', async () => {
    const started = await collector({ token: TOKEN, wrongTokenOnTrack: 'reject' });
    const other = Mixpanel.init('another-token', { host: new URL(started.url).host, protocol: 'http', verbose: true });
    const errors = await done((cb) => other.track('Viewed Home', { $device_id: 'dev-1' }, cb));
    expect(String(errors[0])).toContain("'properties.token' is invalid");
    expect(started.store.countEvents()).toBe(0);
  });

  it('track_batch: a form POST of base64 JSON, linking a device to a user retroactively', async () => {
    const started = await collector();
    const mixpanel = client(started.url);
    const now = Date.now();
    const errors = await done((cb) =>
      mixpanel.track_batch(
        [
          { event: 'Viewed Home', properties: { $device_id: 'dev-2', time: new Date(now - 3000) } },
          { event: 'Viewed Pricing', properties: { $device_id: 'dev-2', time: now - 2000 } },
          { event: 'User Identified', properties: { $device_id: 'dev-2', $user_id: 'user-2', time: now - 1000 } },
        ],
        cb,
      ),
    );
    expect(errors).toEqual([]);
    expect(await feed(started.url, 'user-2')).toEqual([
      ['Viewed Home', '$device:dev-2', 'user-2'],
      ['Viewed Pricing', '$device:dev-2', 'user-2'],
      ['User Identified', 'user-2', 'user-2'],
    ]);
    expect(await identity(started.url, 'dev-2')).toEqual({ distinct_id: 'user-2', user_id: 'user-2', device_ids: ['dev-2'] });
  });

  it('import and import_batch: old events through /import, authenticated with the token as `key`', async () => {
    const started = await collector({ token: TOKEN });
    const mixpanel = client(started.url, { key: TOKEN });
    const lastMonth = Date.now() - 30 * 24 * HOUR;
    expect(await done((cb) => mixpanel.import('Viewed Home', new Date(lastMonth), { $device_id: 'dev-3' }, cb))).toEqual([]);
    const batch = Array.from({ length: 60 }, (_, i) => ({
      event: 'Read Article',
      properties: { $device_id: 'dev-3', $user_id: 'user-3', time: lastMonth + 1000 * (i + 1), n: i },
    }));
    // More than mixpanel-node's 50 per request: two form POSTs.
    expect(await done((cb) => mixpanel.import_batch(batch, cb))).toEqual([]);
    const events = (await send(started.url, '/api/events?distinct_id=user-3', { headers: auth })).json.events;
    expect(events).toHaveLength(61);
    expect(events[0]).toMatchObject({
      event: 'Viewed Home',
      time: lastMonth,
      original_distinct_id: '$device:dev-3',
      distinct_id: 'user-3',
    });
    expect(events.at(-1)).toMatchObject({ event: 'Read Article', time: lastMonth + 60_000, properties: { n: 59 } });
    expect(started.store.allEvents().every((e) => e.endpoint === 'import')).toBe(true);
    // `api_key` is an /import credential only; the query API still wants Basic.
    expect((await send(started.url, `/api/users?api_key=${TOKEN}`)).status).toBe(401);
  });

  it('import with a wrong key stores nothing (legacy /import answers success, as Mixpanel did)', async () => {
    const started = await collector({ token: TOKEN });
    const mixpanel = client(started.url, { key: 'wrong' });
    await done((cb) => mixpanel.import('Viewed Home', new Date(), { $device_id: 'dev-4' }, cb));
    expect(started.store.countEvents()).toBe(0);
  });

  it('people.set, set_once and increment: GET /engage updates the profile keyed by the exact distinct id', async () => {
    const started = await collector({ token: TOKEN });
    const mixpanel = client(started.url);
    expect(await done((cb) => mixpanel.people.set('user-5', { $name: 'Ada', plan: 'free', ip: '203.0.113.9' }, cb))).toEqual([]);
    expect(await done((cb) => mixpanel.people.set('user-5', 'plan', 'pro', cb))).toEqual([]);
    expect(await done((cb) => mixpanel.people.set_once('user-5', { first_seen: 'today', plan: 'ignored' }, cb))).toEqual([]);
    expect(await done((cb) => mixpanel.people.increment('user-5', 'logins', 2, cb))).toEqual([]);
    expect(await done((cb) => mixpanel.people.set('$device:dev-5', { referrer: 'ad' }, cb))).toEqual([]);
    const profile = await send(started.url, '/api/profiles/user-5', { headers: auth });
    expect(profile.json.properties).toEqual({ $name: 'Ada', plan: 'pro', first_seen: 'today', logins: 2 });
    expect((await send(started.url, `/api/profiles/${encodeURIComponent('$device:dev-5')}`, { headers: auth })).json.properties).toEqual({
      referrer: 'ad',
    });
  });

  it('alias sends $create_alias on /track, stored without identity effect (Simplified ID Merge)', async () => {
    const started = await collector();
    const mixpanel = client(started.url);
    expect(await done((cb) => mixpanel.alias('user-6', 'user-6-alias', cb))).toEqual([]);
    expect(await identity(started.url, 'user-6-alias')).toBe(404);
    expect(await feed(started.url, 'user-6')).toEqual([['$create_alias', 'user-6', 'user-6']]);
  });
});

/** A self-signed certificate for 127.0.0.1, made with the openssl command (undefined when it is not installed). */
function selfSignedCertificate(dir: string): { key: string; cert: string; certPath: string } | undefined {
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { stdio: 'ignore' },
    );
  } catch {
    return undefined;
  }
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath };
}

// mixpanel-node sends `secret` and service-account credentials only over HTTPS. A TLS front relays to the
// collector, and the client runs in a child process that trusts the certificate (NODE_EXTRA_CA_CERTS is
// read at startup), so nothing in this process turns certificate checks off.
const CLIENT = `
const Mixpanel = require('mixpanel');
const { host, token, secret, account, time } = JSON.parse(process.env.IDSTITCH_TEST);
const logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const init = (auth) => Mixpanel.init(token, { host, protocol: 'https', verbose: true, logger, ...auth });
const call = (fn) => new Promise((resolve) => fn((e) => resolve(e ? String(e) : null)));
(async () => {
  const bySecret = init({ secret });
  const byAccount = init({ credentials: new Mixpanel.ServiceAccountCredentials(account.username, account.secret, account.projectId) });
  const batch = [1, 2].map((n) => ({ event: 'Batch ' + n, properties: { $device_id: 'dev-b', time: time + n } }));
  const results = {
    secret: await call((cb) => bySecret.import('With Secret', new Date(time), { $device_id: 'dev-s', $user_id: 'user-s' }, cb)),
    batch: await call((cb) => bySecret.import_batch(batch, cb)),
    account: await call((cb) => byAccount.import('With Service Account', time, { $device_id: 'dev-a' }, cb)),
    wrong: await call((cb) => init({ secret: 'wrong' }).import('Wrong Secret', time, { $device_id: 'dev-w' }, cb)),
  };
  process.stdout.write(JSON.stringify(results));
  process.exit(0);
})();
`;

describe('the official mixpanel client over HTTPS, with a secret or a service account', () => {
  const dir = mkdtempSync(join(tmpdir(), 'idstitch-mixpanel-'));
  const certificate = selfSignedCertificate(dir);
  let front: TlsServer | undefined;
  // CI installs openssl and sets IDSTITCH_REQUIRE_OPENSSL=1, so these tests can never be skipped there unnoticed.
  const required = process.env.IDSTITCH_REQUIRE_OPENSSL === '1';
  if (!certificate && !required)
    console.warn(
      '\n  ⚠ Skipping the HTTPS tests of the mixpanel client: the openssl command is not installed (apt-get install -y openssl).\n',
    );
  if (!certificate && required) {
    it('needs the openssl command, since IDSTITCH_REQUIRE_OPENSSL=1 (apt-get install -y openssl)', () => {
      throw new Error('IDSTITCH_REQUIRE_OPENSSL=1 but the openssl command could not make a certificate');
    });
  }

  afterAll(async () => {
    if (front) await new Promise((resolve) => front!.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!certificate)(
    'import and import_batch authenticate with Basic secret: and with a service account plus project_id',
    async () => {
      const account = { username: 'sa.user', secret: 'sa-secret', projectId: '4242' };
      const started = await collector({ token: TOKEN, secret: 'api-secret', serviceAccount: account });
      front = createTlsServer({ key: certificate!.key, cert: certificate!.cert }, (socket) => {
        const upstream = connect(started.port, '127.0.0.1');
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => front!.listen(0, '127.0.0.1', resolve));
      const host = `127.0.0.1:${(front.address() as AddressInfo).port}`;
      const time = Date.now() - 10 * 24 * HOUR;
      const child = spawn(process.execPath, ['-e', CLIENT], {
        cwd: process.cwd(),
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: certificate!.certPath,
          IDSTITCH_TEST: JSON.stringify({ host, token: TOKEN, secret: 'api-secret', account, time }),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
      const code = await new Promise((resolve) => child.on('close', resolve));
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      // Legacy /import answers success to wrong credentials and stores nothing (contract §1.3).
      expect(JSON.parse(stdout)).toEqual({ secret: null, batch: null, account: null, wrong: null });
      expect(started.store.allEvents().map((e) => [e.event, e.distinctId, e.endpoint])).toEqual([
        ['With Secret', 'user-s', 'import'],
        ['Batch 1', '$device:dev-b', 'import'],
        ['Batch 2', '$device:dev-b', 'import'],
        ['With Service Account', '$device:dev-a', 'import'],
      ]);
      expect(await identity(started.url, 'dev-s')).toBe(401);
      expect((await send(started.url, '/api/identity/dev-s', { headers: auth })).json).toEqual({
        distinct_id: 'user-s',
        user_id: 'user-s',
        device_ids: ['dev-s'],
      });
    },
  );
});
