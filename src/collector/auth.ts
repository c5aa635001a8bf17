import { timingSafeEqual } from 'node:crypto';
import type { CollectorConfig } from './options.js';

/** The Basic credentials of a request, or undefined when there are none. */
export function basicCredentials(header: string | undefined): { username: string; password: string } | undefined {
  if (!header) return undefined;
  const match = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (!match) return undefined;
  // Service accounts "accept both base64 encoding and plain-text" (contract §1.3): base64 has no ':'.
  const raw = match[1]!;
  const decoded = raw.includes(':') ? raw : Buffer.from(raw, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return { username: decoded, password: '' };
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Whether a request may use `/import` (contract §1.3): Basic with the project token or the legacy secret
 * as username, or a service account with its `project_id`. The query API passes `requireProjectId: false`,
 * since it is not Mixpanel's and has no project selector. Always true when no credential is configured.
 *
 * `apiKey` is mixpanel-node's legacy `key` option, sent as `?api_key=` (contract §6): accepted when it is the
 * token or the secret, because mixpanel-node refuses `secret` and service accounts over plain HTTP, which
 * leaves `key` as its only way to authenticate `/import` against a local collector.
 */
export function isAuthorized(
  config: CollectorConfig,
  header: string | undefined,
  projectId: string | null,
  requireProjectId = true,
  apiKey: string | null = null,
): boolean {
  if (!config.authRequired) return true;
  if (
    apiKey !== null &&
    ((config.token !== undefined && same(apiKey, config.token)) || (config.secret !== undefined && same(apiKey, config.secret)))
  )
    return true;
  const credentials = basicCredentials(header);
  if (!credentials) return false;
  const { username, password } = credentials;
  if (config.token !== undefined && same(username, config.token)) return true;
  if (config.secret !== undefined && same(username, config.secret)) return true;
  const account = config.serviceAccount;
  if (account !== undefined && same(username, account.username) && same(password, account.secret)) {
    return !requireProjectId || projectId === account.projectId;
  }
  return false;
}

function same(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
