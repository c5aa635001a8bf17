// The collector page's Doctor view (/?view=doctor), as sent: the checks, their examples linked to the
// users they name, hostile event names and ids escaped, and the page's CSP unchanged.
import { describe, expect, it } from 'vitest';
import { escapeHtml } from '../../src/collector/html.js';
import { collector, event, importEvents, send, trackEvents } from '../collector/helpers.js';

const HTML = { accept: 'text/html' };
const NAME = '<img src=x onerror=alert(1)>';
// An e-mail-shaped id, so the suspicious-ids check shows it as a subject.
const USER = '"><svg/onload=alert(1)>@evil.example';

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('the collector page: Doctor', () => {
  it('renders every check with hostile event names and ids escaped, under the same CSP', async () => {
    const started = await collector({ denylistedIdsOnTrack: 'accept' });
    await importEvents(started.url, [event('Viewed Home', { device: 'd1' }), event(NAME, { device: 'd1', user: USER })]);
    await trackEvents(started.url, [
      { event: NAME, properties: { time: Date.now(), $insert_id: 'deny-1', $device_id: 'd2', $user_id: 'null' } },
    ]);
    const page = await send(started.url, '/?view=doctor', { headers: HTML });
    expect(page.status).toBe(200);
    for (const hostile of [NAME, USER]) expect(page.text).not.toContain(hostile);
    expect(page.text).toContain(`<td class="event">${escapeHtml(NAME)}</td>`);
    expect(page.text).toContain(`<code>${escapeHtml(USER)}</code>`);
    expect([count(page.text, '<script'), count(page.text, '<img'), count(page.text, '<svg')]).toEqual([1, 0, 0]);
    const nonce = /<script nonce="([^"]+)">/.exec(page.text)?.[1];
    expect(page.headers.get('content-security-policy')).toBe(
      `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
    );

    expect(page.text).toContain('<title>Doctor · idstitch collector</title>');
    expect(count(page.text, '<section class="check"')).toBe(7);
    expect(page.text).toContain(
      '<h3 id="check-denylisted-ids"><span class="badge fail">fail</span> No deny-listed ids (the placeholders Mixpanel refuses) <small>1 record</small></h3>',
    );
    expect(page.text).toContain('<h3 id="check-shared-devices"><span class="badge pass">pass</span>');
    expect(page.text).toContain('<span class="badge warn">warn</span> User ids are stable database ids');
    // A subject the page knows links to its user; the JSON link points at the report.
    expect(page.text).toContain(
      `<a href="${escapeHtml(`?${new URLSearchParams({ distinct_id: USER })}`)}"><code>${escapeHtml(USER)}</code></a>`,
    );
    expect(page.text).toContain('<a href="/api/doctor">JSON</a>');
    expect(page.text).toContain('<a href="?view=doctor" aria-current="page">Doctor</a>');
  });

  it('links the Doctor from the usual page, and a search from the Doctor opens the user', async () => {
    const started = await collector();
    await importEvents(started.url, [event('Viewed Home', { device: 'd1' }), event('Signed Up', { device: 'd1', user: 'u1' })]);
    const home = await send(started.url, '/', { headers: HTML });
    expect(home.text).toContain('<a href="?view=doctor">Doctor</a>');
    expect(home.text).not.toContain('class="check"');
    const search = await send(started.url, '/?view=doctor&distinct_id=u1', { headers: HTML });
    expect(search.text).toContain('<title>u1 · idstitch collector</title>');
    expect(search.text).not.toContain('class="check"');
  });

  it('shows a passing report for a collector with no events yet', async () => {
    const started = await collector();
    const page = await send(started.url, '/?view=doctor', { headers: HTML });
    expect(page.status).toBe(200);
    expect(count(page.text, '<span class="badge pass">pass</span>')).toBe(7);
    expect(page.text).toContain('0 events · 0 users · 0 devices · 0 profiles');
  });
});
