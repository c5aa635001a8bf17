// The collector is a server on the developer's own machine, and any web page the developer opens
// can send requests to it. Its page, query API and control routes (which reset data and inject
// faults) answer only the developer's own tools: requests from another site are refused, and while
// it listens on loopback, so is any Host that is not a loopback name (a DNS-rebinding page would
// reach it under its own domain name).
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

/** Whether `host` (a listen address) is loopback, so the Host check applies. */
export function listensOnLoopback(host: string): boolean {
  return isLoopbackName(host);
}

/** Why a request to the page, query or control routes is refused, or undefined when it may go on. */
export function crossSiteRefusal(headers: IncomingHttpHeaders, loopbackOnly: boolean): string | undefined {
  const host = headers.host;
  if (loopbackOnly && host !== undefined && !isLoopbackName(hostname(host))) {
    return `Host ${JSON.stringify(host.slice(0, 100))} is not a loopback name: the collector listens on loopback and answers only requests addressed to it (localhost, 127.0.0.1, [::1])`;
  }
  // Browsers send it on every request they make (Fetch Metadata); tools such as curl do not.
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return `a ${site} request from a web page; open the collector's page directly`;
  const origin = headers.origin;
  if (origin !== undefined && !sameOrigin(origin, host)) return `a request from ${JSON.stringify(origin.slice(0, 100))}, another origin`;
  return undefined;
}

/**
 * CORS headers for the ingestion routes, which mixpanel-browser may call from any page. It sends
 * credentials (its opt-out cookie), which only the developer's own local pages are allowed to; a
 * foreign page's request is still ingested (a simple POST needs no permission), but its script
 * cannot read the answer with credentials.
 */
export function ingestionCors(origin: string | undefined): Record<string, string> {
  if (origin === undefined) return { 'access-control-allow-origin': '*' };
  let local = false;
  try {
    local = isLoopbackName(new URL(origin).hostname);
  } catch {
    // not a URL (`null`, garbage): a foreign origin
  }
  return local
    ? { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' }
    : { 'access-control-allow-origin': '*' };
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}

/** The name part of a Host header (`[::1]:7600` → `::1`). */
function hostname(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']') === -1 ? undefined : host.indexOf(']'));
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

function isLoopbackName(name: string): boolean {
  const lower = name
    .toLowerCase()
    .replace(/\.$/, '')
    .replace(/^\[|\]$/g, '');
  if (lower === 'localhost' || lower.endsWith('.localhost')) return true;
  if (isIP(lower) === 4) return lower.startsWith('127.');
  return lower === '::1' || lower === '0:0:0:0:0:0:0:1';
}
