// The collector is a server on the developer's machine that any web page they open can reach. Its
// page, query API and control routes answer only the developer's own tools; ingestion stays open
// to browsers (mixpanel-browser pointed at it), but never shares credentials with a foreign page.
// With credentials configured, a stranger's upload is refused before it is read.
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../src/collector/index.js';

let collector: Collector | undefined;
afterEach(async () => {
  await collector?.close();
  collector = undefined;
});

/** A raw request, so Host and the browser's headers are exactly what a test says. */
function send(
  url: string,
  init: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: init.method ?? 'GET', path: init.path, headers: init.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('the page, query and control routes refuse what a foreign web page can send', () => {
  it('refuses a cross-site POST to /_control/reset (a simple text/plain form needs no preflight), and resets nothing', async () => {
    collector = await startCollector({ port: 0 });
    await fetch(`${collector.url}/track`, {
      method: 'POST',
      body: JSON.stringify([{ event: 'Kept', properties: { token: 't', distinct_id: 'd1', time: Date.now() } }]),
    });
    const attack = await send(collector.url, {
      method: 'POST',
      path: '/_control/reset',
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' },
      body: '',
    });
    expect(attack.status).toBe(403);
    expect(JSON.parse(attack.body)).toMatchObject({ code: 403 });
    expect(collector.store.countEvents()).toBe(1);
  });

  it.each([
    ['Origin of another site', { origin: 'https://evil.example' }],
    ['Origin "null" (a sandboxed frame)', { origin: 'null' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site (another port of localhost)', { 'sec-fetch-site': 'same-site' }],
  ])('refuses the query API and the page to a request with %s', async (_what, headers) => {
    collector = await startCollector({ port: 0 });
    expect((await send(collector.url, { path: '/api/users', headers })).status).toBe(403);
    expect((await send(collector.url, { path: '/', headers: { ...headers, accept: 'text/html' } })).status).toBe(403);
  });

  it('refuses a Host that is not a loopback name while it listens on loopback (DNS rebinding)', async () => {
    collector = await startCollector({ port: 0 });
    const { port } = new URL(collector.url);
    expect((await send(collector.url, { path: '/api/users', headers: { host: `rebind.evil.example:${port}` } })).status).toBe(403);
    expect(
      (await send(collector.url, { method: 'POST', path: '/_control/reset', headers: { host: `rebind.evil.example:${port}` } })).status,
    ).toBe(403);
  });

  it("answers the developer's own tools: no browser headers, its own page (same origin), and every loopback name", async () => {
    collector = await startCollector({ port: 0 });
    const { port } = new URL(collector.url);
    expect((await send(collector.url, { path: '/api/users' })).status).toBe(200);
    expect(
      (await send(collector.url, { path: '/api/users', headers: { 'sec-fetch-site': 'same-origin', origin: collector.url } })).status,
    ).toBe(200);
    expect((await send(collector.url, { path: '/', headers: { 'sec-fetch-site': 'none', accept: 'text/html' } })).status).toBe(200);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `app.localhost:${port}`]) {
      expect((await send(collector.url, { path: '/api/users', headers: { host } })).status, host).toBe(200);
    }
  });
});

describe('ingestion stays open to browsers, credentials only for local pages', () => {
  it("ingests a foreign page's events but lets it read no answer with credentials", async () => {
    collector = await startCollector({ port: 0 });
    const foreign = await send(collector.url, {
      method: 'POST',
      path: '/track?verbose=1',
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' },
      body: JSON.stringify([{ event: 'From A Page', properties: { token: 't', distinct_id: 'd1', time: Date.now() } }]),
    });
    expect(foreign.status).toBe(200);
    expect(foreign.headers['access-control-allow-origin']).toBe('*');
    expect(foreign.headers['access-control-allow-credentials']).toBeUndefined();
    expect(collector.store.countEvents()).toBe(1);
  });

  it('lets a page on localhost (mixpanel-browser in development) send with credentials', async () => {
    collector = await startCollector({ port: 0 });
    const local = await send(collector.url, {
      method: 'OPTIONS',
      path: '/track',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' },
    });
    expect(local.status).toBe(204);
    expect(local.headers['access-control-allow-origin']).toBe('http://localhost:3000');
    expect(local.headers['access-control-allow-credentials']).toBe('true');
  });
});

describe('with credentials configured', () => {
  /** Sends headers and the start of a large body, and reports what the collector did before the body ended. */
  function upload(
    url: string,
    path: string,
    headers: Record<string, string>,
    declaredBytes: number,
  ): Promise<{ status: number; sentBytes: number; closed: boolean }> {
    const { port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1');
      let sent = 0;
      let response = '';
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      socket.on('connect', () => {
        const head = [
          `POST ${path} HTTP/1.1`,
          `Host: 127.0.0.1:${port}`,
          `Content-Length: ${declaredBytes}`,
          'Content-Type: application/json',
          ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
          '',
          '',
        ].join('\r\n');
        socket.write(head);
        const pump = (): void => {
          while (sent < declaredBytes && !socket.destroyed) {
            sent += chunk.length;
            if (!socket.write(chunk)) return void socket.once('drain', pump);
          }
        };
        pump();
      });
      socket.on('data', (data: Buffer) => (response += data.toString('latin1')));
      socket.on('error', () => undefined); // a reset after the answer is the point of the test
      socket.on('close', () => {
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
        if (!status) reject(new Error(`no answer; sent ${sent} bytes`));
        else resolve({ status, sentBytes: sent, closed: true });
      });
    });
  }

  it('answers 401 to a stranger before reading the body, and closes the connection', async () => {
    collector = await startCollector({ port: 0, token: 'project-token', maxRequestBytes: 64 * 1024 * 1024 });
    const answer = await upload(
      collector.url,
      '/import?strict=1',
      { authorization: `Basic ${Buffer.from('wrong:').toString('base64')}` },
      64 * 1024 * 1024,
    );
    expect(answer.status).toBe(401);
    expect(answer.sentBytes, 'the stranger did not get to upload the whole 64 MiB').toBeLessThan(64 * 1024 * 1024);
  });

  it('stops reading at the size limit and closes the connection', async () => {
    collector = await startCollector({ port: 0, token: 'project-token', maxRequestBytes: 1024 * 1024 });
    const answer = await upload(
      collector.url,
      '/import?strict=1',
      { authorization: `Basic ${Buffer.from('project-token:').toString('base64')}` },
      64 * 1024 * 1024,
    );
    expect(answer.status).toBe(413);
    expect(answer.sentBytes).toBeLessThan(64 * 1024 * 1024);
  });
});
