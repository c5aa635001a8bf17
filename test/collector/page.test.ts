// The page's HTML as sent, without a browser (page.browser.test.ts drives it in Chromium).
import { describe, expect, it } from 'vitest';
import { escapeHtml, html } from '../../src/collector/html.js';
import { basic, collector, event, importEvents, send } from './helpers.js';

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const HOSTILE = [
  '<img src=x onerror=alert(1)>',
  '</textarea><script>alert(1)</script>',
  `'"><svg onload=alert(1)>`,
  '</style></script><script>alert(1)</script>',
];

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('html``', () => {
  it('escapes every interpolated value, in content and in quoted attributes', () => {
    const value = `<a href="x" onclick='y'>&amp;</a>`;
    expect(html`<p title="${value}">${value}</p>`.toString()).toBe(
      '<p title="&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;">&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;</p>',
    );
    expect(escapeHtml('plain text')).toBe('plain text');
  });

  it('passes its own fragments and arrays of them through, and renders nothing for null, undefined and false', () => {
    const items = ['<1>', '<2>'].map((item) => html`<li>${item}</li>`);
    expect(html`<ul>${items}</ul>${null}${undefined}${false}${0}`.toString()).toBe('<ul><li>&lt;1&gt;</li><li>&lt;2&gt;</li></ul>0');
  });
});

describe('GET /', () => {
  it('serves the JSON index to clients that do not ask for HTML', async () => {
    const started = await collector();
    const index = await send(started.url, '/', { headers: { accept: 'application/json' } });
    expect(index.json).toMatchObject({ name: 'idstitch collector', query: expect.arrayContaining(['/api/users']) });
  });

  it('sends hostile event names, ids and property values escaped, with a CSP that allows only its own nonce', async () => {
    const started = await collector();
    const [name, value, key, user] = HOSTILE as [string, string, string, string];
    await importEvents(started.url, [event(name, { device: value, user }, { [key]: value, note: user })]);
    // The user's page (by default and by id), and the not-found notice echoing a hostile id: one drawing, one, none.
    const pages: Array<[string, number]> = [
      ['/', 1],
      [`/?distinct_id=${encodeURIComponent(user)}`, 1],
      [`/?distinct_id=${encodeURIComponent(key)}`, 0],
    ];
    for (const [path, drawings] of pages) {
      const page = await send(started.url, path, { headers: HTML });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      for (const hostile of HOSTILE) expect(page.text).not.toContain(hostile);
      expect(count(page.text, '<script')).toBe(1);
      expect(count(page.text, '<style')).toBe(1);
      expect(count(page.text, '<img')).toBe(0);
      expect(count(page.text, '<svg')).toBe(drawings);
      const nonce = /<script nonce="([^"]+)">/.exec(page.text)?.[1];
      expect(page.headers.get('content-security-policy')).toBe(
        `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
      );
    }
    expect((await send(started.url, '/', { headers: HTML })).text).toContain(escapeHtml(name));
  });

  it('asks for the token with a Basic challenge when one is configured, for the page and the index alike', async () => {
    const started = await collector({ token: 'tok' });
    await importEvents(started.url, [event('Viewed', { device: 'd1', user: 'u1' })], { authorization: basic('tok') });
    const denied = await send(started.url, '/', { headers: HTML });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Basic realm="idstitch collector", charset="UTF-8"');
    expect(denied.text).toContain('project token as the user name');
    expect(denied.text).not.toContain('u1');
    expect((await send(started.url, '/', { headers: { ...HTML, authorization: basic('wrong') } })).status).toBe(401);
    expect((await send(started.url, '/')).status).toBe(401);
    const page = await send(started.url, '/', { headers: { ...HTML, authorization: basic('tok') } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('$device:d1');
  });

  it('shows how to send events when none have arrived', async () => {
    const started = await collector();
    const page = await send(started.url, '/', { headers: HTML });
    expect(page.text).toContain('No events yet');
    expect(page.text).toContain(`apiHost: &#39;${started.url}&#39;`);
  });

  it('says so when no user or device has the id asked for', async () => {
    const started = await collector();
    await importEvents(started.url, [event('Viewed', { device: 'd1' })]);
    const page = await send(started.url, '/?distinct_id=nobody', { headers: HTML });
    expect(page.text).toContain('No user or device has the id <code>nobody</code>');
  });

  it('marks events sent as the device before the link as retroactively attributed, and later ones as routed by the link', async () => {
    const started = await collector();
    await importEvents(started.url, [
      event('Viewed Home', { device: 'd1' }),
      event('Signed Up', { device: 'd1', user: 'u1' }),
      event('Viewed Docs', { device: 'd1' }),
    ]);
    const page = (await send(started.url, '/?distinct_id=u1', { headers: HTML })).text;
    const rows = page.slice(page.indexOf('<tbody>')).split('</tr>').slice(0, 3);
    expect(rows.map((row) => /class="badge (\w+)"/.exec(row)?.[1])).toEqual(['retro', 'link', 'via']);
    expect(rows[0]).toContain('<tr class="retro">');
    expect(page).toContain('3 events in time order · 1 retroactively attributed');
  });

  it('counts duplicates (same event, distinct_id, time and $insert_id) as hidden, and links the raw view', async () => {
    const started = await collector();
    const viewed = event('Viewed Home', { device: 'd1' });
    await importEvents(started.url, [viewed, viewed, event('Viewed Pricing', { device: 'd1' })]);
    const page = (await send(started.url, '/', { headers: HTML })).text;
    expect(page).toContain(
      '2 events in time order · 1 duplicate hidden (<a href="/api/events?distinct_id=%24device%3Ad1&amp;raw=1">raw view</a>)',
    );
    expect(count(page, '<tr')).toBe(3); // the header row and two events
  });

  it('answers other methods with 405', async () => {
    const started = await collector();
    expect((await send(started.url, '/', { method: 'POST', body: 'x', headers: HTML })).status).toBe(405);
  });
});
