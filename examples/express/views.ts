// The example's pages. Everything interpolated goes through `html`, which escapes it.
import { html, type SafeHtml } from '../html.js';
import type { User } from './users.js';
import { MIN_PASSWORD_LENGTH } from './users.js';

/** What the pages say about the framework serving them (the views are shared by the examples). */
export interface Framework {
  name: string;
  /** How the app reads the identity, e.g. `identityOf(req)`. */
  identityCall: string;
  subpath: string;
  /** Where the app's session puts the user id. */
  userSource: string;
}

export const EXPRESS: Framework = {
  name: 'Express',
  identityCall: 'identityOf(req)',
  subpath: 'idstitch/express',
  userSource: 'req.user.id',
};

/** Every page's security headers. No scripts anywhere: a strict policy costs nothing and contains any escaping mistake. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

export interface PageContext {
  user: User | undefined;
  /** The local collector's page, when the app runs against one. */
  collectorUrl: string | undefined;
  /** Default: Express. */
  framework?: Framework;
}

export function layout(title: string, context: PageContext, body: SafeHtml): string {
  const { user, collectorUrl } = context;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} — idstitch ${(context.framework ?? EXPRESS).name} example</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d232b; }
  header { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; padding: .75rem 1.5rem; background: #14213d; color: #fff; }
  header a, header button { color: #fff; } header strong { margin-right: 1rem; }
  header form { margin: 0; } header button { background: none; border: 1px solid #fff6; border-radius: 4px; padding: .15rem .6rem; cursor: pointer; font: inherit; }
  .who { margin-left: auto; font-size: .9rem; opacity: .9; } header code { background: #ffffff26; color: #fff; }
  main { max-width: 52rem; padding: 1rem 1.5rem 3rem; }
  code { font: 13px ui-monospace, monospace; background: #f1f3f5; padding: 0 .25rem; border-radius: 3px; word-break: break-all; }
  .card { border: 1px solid #e3e6ea; border-radius: 6px; padding: .75rem 1rem; margin: 1rem 0; }
  .error { background: #fde2e2; border: 1px solid #f5b5b5; padding: .5rem .75rem; border-radius: 4px; }
  label { display: block; margin: .6rem 0 .2rem; } input { font: inherit; padding: .35rem .5rem; width: 18rem; max-width: 100%; }
  button.primary { margin-top: 1rem; font: inherit; padding: .4rem 1rem; background: #14213d; color: #fff; border: 0; border-radius: 4px; cursor: pointer; }
  table { border-collapse: collapse; } td, th { padding: .3rem .75rem .3rem 0; text-align: left; vertical-align: top; }
  ol li { margin: .35rem 0; } .muted { color: #5c6670; }
</style>
</head>
<body>
<header>
  <strong>Acme (idstitch example)</strong>
  <a href="/">Home</a> <a href="/pricing">Pricing</a> <a href="/whoami">Who am I</a>
  ${
    user
      ? html`<form method="post" action="/logout"><button type="submit" id="logout">Log out</button></form>`
      : html`<a href="/signup">Sign up</a> <a href="/login">Log in</a>`
  }
  ${collectorUrl && html`<a href="${collectorUrl}/" target="_blank" rel="noopener">Collector ↗</a>`}
  <span class="who">${user ? html`Signed in as ${user.name} (<code>${user.id}</code>)` : 'Anonymous visitor'}</span>
</header>
<main>
<h1>${title}</h1>
${body}
</main>
</body>
</html>`.value;
}

export function homePage(context: PageContext): string {
  const recorder = context.collectorUrl
    ? html`the <a href="${context.collectorUrl}/" target="_blank" rel="noopener">local collector</a>`
    : 'your Mixpanel project';
  return layout(
    'Home',
    context,
    html`<p>This app tracks page views on the server with idstitch: each browser gets a device id in an HttpOnly cookie
(<code>$device_id</code>); after sign-up or log-in, events also carry your user id (<code>$user_id</code>); log-out starts a new
device id. Watch what Mixpanel would derive on ${recorder} while you try the three flows of Mixpanel's
<a href="https://docs.mixpanel.com/docs/tracking-methods/id-management/identifying-users-simplified">Identifying Users (Simplified)</a> guide.
Events reach it within a second.</p>

<div class="card">
<h2>1. New user signup</h2>
<ol>
  <li>Browse <a href="/">Home</a> and <a href="/pricing">Pricing</a>: the events carry only your device id, so their distinct_id is <code>$device:&lt;device id&gt;</code>.</li>
  <li><a href="/signup">Sign up</a>. The app calls <code>identifyUser(req, user.id)</code>: one event carries both ids, which links the device to the user.</li>
  <li>On the collector page, your earlier anonymous events now resolve to the user id (retroactively).</li>
</ol>
</div>

<div class="card">
<h2>2. Returning user on a new device</h2>
<ol>
  <li>Open this app in <em>another browser profile</em> (or a private window, or another browser): it is a new device with a new device id.</li>
  <li>Browse a little, then <a href="/login">log in</a> as the user from flow 1.</li>
  <li>Both devices now belong to the same user: one cluster with two devices.</li>
</ol>
</div>

<div class="card">
<h2>3. Multiple users on one device</h2>
<ol>
  <li>In a browser where someone is signed in, <strong>log out</strong>. The app tracks "Logged Out", then calls <code>resetUser(req)</code>: this browser gets a new device id.</li>
  <li><a href="/signup">Sign up</a> a second user. The new device id links to the second user only.</li>
  <li>The collector shows two users with separate devices: nothing of the first user moves to the second.
  (The last note of that flow in Mixpanel's guide says D1, D2 and U1 end in one cluster; by its own rules they do not.)</li>
</ol>
</div>

<p class="muted"><a href="/whoami">Who am I</a> shows the ids this browser sends right now.</p>`,
  );
}

export function pricingPage(context: PageContext): string {
  const plans = [
    { name: 'Hobby', price: '$0', detail: '1 project, 10k events a month' },
    { name: 'Team', price: '$29', detail: '5 projects, 1M events a month' },
    { name: 'Business', price: '$99', detail: 'Unlimited projects, SSO' },
  ];
  return layout(
    'Pricing',
    context,
    html`<p>A tracked page: viewing it sends "Viewed Pricing" with this browser's ids.</p>
<table><thead><tr><th>Plan</th><th>Price</th><th></th></tr></thead><tbody>
${plans.map((plan) => html`<tr><td>${plan.name}</td><td>${plan.price}</td><td class="muted">${plan.detail}</td></tr>`)}
</tbody></table>
${!context.user && html`<p><a href="/signup">Sign up</a> to pick a plan.</p>`}`,
  );
}

export interface FormState {
  error?: string;
  email?: string;
  name?: string;
}

export function signupPage(context: PageContext, state: FormState = {}): string {
  return layout(
    'Sign up',
    context,
    html`${state.error && html`<p class="error" role="alert">${state.error}</p>`}
<form method="post" action="/signup">
  <label for="name">Name</label><input id="name" name="name" required maxlength="80" value="${state.name ?? ''}" autocomplete="name">
  <label for="email">E-mail</label><input id="email" name="email" type="email" required maxlength="200" value="${state.email ?? ''}" autocomplete="email">
  <label for="password">Password (at least ${MIN_PASSWORD_LENGTH} characters)</label><input id="password" name="password" type="password" required minlength="${MIN_PASSWORD_LENGTH}" maxlength="200" autocomplete="new-password">
  <br><button class="primary" type="submit">Create account</button>
</form>
<p class="muted">Accounts live in this process's memory only and vanish when it stops. Passwords are hashed (scrypt) and checked; there is no e-mail verification.</p>`,
  );
}

export function loginPage(context: PageContext, state: FormState = {}): string {
  return layout(
    'Log in',
    context,
    html`${state.error && html`<p class="error" role="alert">${state.error}</p>`}
<form method="post" action="/login">
  <label for="email">E-mail</label><input id="email" name="email" type="email" required maxlength="200" value="${state.email ?? ''}" autocomplete="email">
  <label for="password">Password</label><input id="password" name="password" type="password" required maxlength="200" autocomplete="current-password">
  <br><button class="primary" type="submit">Log in</button>
</form>
<p class="muted">No account yet? <a href="/signup">Sign up</a>. Logging in on a new browser profile is the "returning user on a new device" flow.</p>`,
  );
}

export interface Identity {
  deviceId: string | undefined;
  /** True when the device id was issued by this very response (no valid cookie came in). */
  deviceIdIsNew: boolean;
  userId: string | undefined;
}

export function whoamiPage(context: PageContext, identity: Identity): string {
  const { user } = context;
  const framework = context.framework ?? EXPRESS;
  return layout(
    'Who am I',
    context,
    html`<table id="identity">
<tr><th>Device id (<code>$device_id</code>)</th><td><code id="device-id">${identity.deviceId ?? '—'}</code>${identity.deviceIdIsNew ? html` <span class="muted">(new: issued by this response)</span>` : ''}</td></tr>
<tr><th>User id (<code>$user_id</code>)</th><td><code id="user-id">${identity.userId ?? '—'}</code>${identity.userId ? '' : html` <span class="muted">anonymous</span>`}</td></tr>
<tr><th>distinct_id Mixpanel derives</th><td><code id="distinct-id">${identity.userId ?? (identity.deviceId ? `$device:${identity.deviceId}` : '—')}</code></td></tr>
${user && html`<tr><th>Signed in as</th><td>${user.name} &lt;${user.email}&gt;</td></tr>`}
</table>
<p class="muted">The device id comes from the <code>idstitch_device</code> cookie (HttpOnly: page scripts cannot read it), read on the server with
<code>${framework.identityCall}</code> from <code>${framework.subpath}</code>. The user id comes from the app's session (<code>${framework.userSource}</code>).
This page is not tracked.</p>`,
  );
}
