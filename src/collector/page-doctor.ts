import type { DoctorCheck, DoctorExample, DoctorReport, ExampleEvent } from '../doctor/report.js';
import { html, pageHref, type SafeHtml } from './html.js';

/** Examples per check (and events per example) on the page; `/api/doctor?examples=` gives more. */
export const PAGE_EXAMPLES = 5;

/**
 * The doctor's report as the page's main panel: one section per check, its examples and their events.
 * Subjects, details and event names are data from whoever sent the events: all go through `html`.
 * `linkable` says which subjects the page can open (a user or device it knows).
 */
export function doctorPanel(report: DoctorReport, linkable: (id: string) => boolean): SafeHtml {
  const { totals } = report;
  const tally = (['fail', 'warn', 'pass'] as const).map(
    (status) => [status, report.checks.filter((check) => check.status === status).length] as const,
  );
  return html`<h2>Doctor</h2>
    <p class="subtitle">The QA list of Mixpanel's guide <cite>Identifying Users (Simplified)</cite>, checked against every event and profile here
      (<a href="/api/doctor">JSON</a>; <code>idstitch doctor --url</code> from a terminal).</p>
    <p class="doctor-totals">${count(totals.events, 'event')} · ${count(totals.users, 'user')} · ${count(totals.devices, 'device')} · ${count(totals.profiles, 'profile')} —
      ${tally.map(([status, n]) => html`<span class="badge ${n === 0 ? 'none' : status}">${n} ${status}</span>`)}</p>
    ${report.checks.map((check) => checkSection(check, linkable))}`;
}

function checkSection(check: DoctorCheck, linkable: (id: string) => boolean): SafeHtml {
  const id = `check-${check.id}`;
  return html`<section class="check" aria-labelledby="${id}">
    <h3 id="${id}"><span class="badge ${check.status}">${check.status}</span> ${check.title}${check.count > 0 ? html` <small>${count(check.count, check.unit)}</small>` : html``}</h3>
    <p>${check.summary}</p>
    ${check.examples.length > 0 ? html`<ul class="examples">${check.examples.map((found) => exampleItem(found, linkable))}</ul>` : html``}
  </section>`;
}

function exampleItem(found: DoctorExample, linkable: (id: string) => boolean): SafeHtml {
  const subject = linkable(found.subject)
    ? html`<a href="${pageHref({ distinct_id: found.subject })}"><code>${found.subject}</code></a>`
    : html`<code>${found.subject}</code>`;
  return html`<li>${subject}: ${found.detail}
    ${
      found.events.length > 0
        ? html`<table class="compact"><thead><tr><th>Time</th><th>Event</th><th>$device_id</th><th>$user_id</th><th>$insert_id</th><th>Why shown</th></tr></thead>
      <tbody>${found.events.map(eventRow)}</tbody></table>`
        : html``
    }</li>`;
}

function eventRow(event: ExampleEvent): SafeHtml {
  const time = event.time === null ? '—' : new Date(event.time).toISOString();
  return html`<tr><td class="time">${event.time === null ? time : html`<time datetime="${time}">${time.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}</time>`}</td>
    <td class="event">${event.event}</td><td class="ids">${cell(event.device_id)}</td><td class="ids">${cell(event.user_id)}</td><td class="ids">${cell(event.insert_id)}</td><td>${event.note}</td></tr>`;
}

function cell(value: string | null): SafeHtml {
  return value === null ? html`<span class="empty">—</span>` : html`<code>${value}</code>`;
}

function count(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}
