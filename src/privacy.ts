// Whether a request may be tracked at all: the browser's opt-out signals (Global Privacy Control,
// optionally Do Not Track) and the app's own consent decision. Decided once, when the request's
// scope is created; an opted-out request gets no cookie and sends nothing.
import { ConfigError, IdstitchError } from './errors.js';
import { describe, rejectUnknown } from './option-checks.js';
import type { Reporter } from './report.js';

export interface PrivacyOptions<Req = never> {
  /**
   * Honour Global Privacy Control: a request with `Sec-GPC: 1` is opted out. Default `true`:
   * CCPA/CPRA treat GPC as a binding opt-out of sale and sharing, and sending the visit to Mixpanel
   * is sharing it with a third party. Page scripts cannot forge the header.
   */
  gpc?: boolean;
  /** Honour `DNT: 1` too. Default `false`: the spec is discontinued and browsers send it without asking. */
  dnt?: boolean;
  /**
   * The app's consent decision per request, e.g. from its consent-banner cookie: `true` tracks,
   * `false` opts the request out. Receives what `getUserId` receives (Express `req`, Koa `ctx`,
   * Next the source object; in Next it may be async). A throw, a promise (outside Next) or any
   * value but a boolean is reported (`IDSTITCH_CONSENT_FAILED`) and counts as no consent.
   */
  consent?(req: Req): boolean;
}

export interface PrivacyConfig {
  readonly gpc: boolean;
  readonly dnt: boolean;
  readonly consent: ((req: unknown) => unknown) | undefined;
}

export const PRIVACY_DEFAULTS = { gpc: true, dnt: false } as const;

const NAMES: ReadonlyArray<keyof PrivacyOptions> = ['gpc', 'dnt', 'consent'];

export function normalizePrivacy(value: unknown): PrivacyConfig {
  if (value === undefined) value = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(
      'privacy',
      `must be an object such as { gpc: true, dnt: false, consent: (req) => boolean }, got ${describe(value)}`,
    );
  }
  rejectUnknown(value, NAMES, 'privacy.');
  const options = value as PrivacyOptions;
  for (const name of ['gpc', 'dnt'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') {
      throw new ConfigError(`privacy.${name}`, `must be true or false, got ${describe(options[name])}`);
    }
  }
  if (options.consent !== undefined && typeof options.consent !== 'function') {
    throw new ConfigError('privacy.consent', `must be a function (req) => boolean, got ${describe(options.consent)}`);
  }
  return Object.freeze({
    gpc: options.gpc ?? PRIVACY_DEFAULTS.gpc,
    dnt: options.dnt ?? PRIVACY_DEFAULTS.dnt,
    consent: options.consent as PrivacyConfig['consent'],
  });
}

/**
 * True when the request must not be tracked. The browser's signals are read first, so a request
 * that sends one never reaches the consent hook. `consented` is a decision the adapter already
 * made (Next awaits an async hook before the scope exists); otherwise the hook is called here.
 */
export function isOptedOut(
  privacy: PrivacyConfig,
  request: { header(name: string): string | undefined },
  req: unknown,
  reporter: Reporter,
  consented?: boolean,
): boolean {
  if (privacy.gpc && request.header('sec-gpc')?.trim() === '1') return true;
  if (privacy.dnt && request.header('dnt')?.trim() === '1') return true;
  if (consented !== undefined) return !consented;
  if (privacy.consent === undefined) return false;
  let answer: unknown;
  try {
    answer = privacy.consent(req);
  } catch (error) {
    return !consentFailed(reporter, error);
  }
  return !consentAnswer(answer, reporter);
}

/**
 * What a consent hook's answer means: only `true` is consent. A promise cannot be awaited on this
 * synchronous path (Next's adapter awaits it before asking), so it is refused like any non-boolean.
 */
export function consentAnswer(answer: unknown, reporter: Reporter): boolean {
  if (answer === true || answer === false) return answer;
  if (answer !== null && typeof answer === 'object' && typeof (answer as { then?: unknown }).then === 'function') {
    (answer as Promise<unknown>).then(undefined, () => {}); // ours to silence: it must not become an unhandled rejection
    reporter.report(
      new IdstitchError(
        'IDSTITCH_CONSENT_FAILED',
        'privacy.consent returned a promise; it must answer true or false synchronously here. The request is not tracked',
      ),
    );
    return false;
  }
  reporter.report(
    new IdstitchError(
      'IDSTITCH_CONSENT_FAILED',
      `privacy.consent must return true or false, got ${describe(answer)}; the request is not tracked`,
    ),
  );
  return false;
}

/**
 * A consent hook that throws has not said yes. Failing closed costs some analytics; failing open
 * would track people who may have said no, which is the failure consent rules exist to prevent.
 * Always false.
 */
export function consentFailed(reporter: Reporter, error: unknown): false {
  reporter.report(
    new IdstitchError(
      'IDSTITCH_CONSENT_FAILED',
      `privacy.consent threw (${(error as Error)?.message ?? String(error)}); the request is treated as not consented and not tracked`,
      { cause: error },
    ),
  );
  return false;
}
