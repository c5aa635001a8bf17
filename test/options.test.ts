import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { normalizeOptions } from '../src/config.js';
import { DEFAULTS, type TrackerOptions } from '../src/options.js';

function configError(options: unknown): ConfigError {
  try {
    normalizeOptions(options as TrackerOptions, {});
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('IDSTITCH_INVALID_OPTION');
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('normalizeOptions', () => {
  it('defaults to strict /import on the US host with ip=0, and the token from MIXPANEL_TOKEN', () => {
    const config = normalizeOptions({}, { MIXPANEL_TOKEN: 'abc' });
    expect(config.url.href).toBe('https://api.mixpanel.com/import?strict=1&ip=0');
    expect(config.authorization).toBe('Basic ' + Buffer.from('abc:').toString('base64'));
    expect(config.token).toBe('abc');
    expect(config.canSend).toBe(true);
    expect(config.maxQueueSize).toBeGreaterThanOrEqual(10_000);
  });

  it('maps regions to their hosts', () => {
    expect(normalizeOptions({ region: 'EU', token: 't' }, {}).url.host).toBe('api-eu.mixpanel.com');
    expect(normalizeOptions({ region: 'IN', token: 't' }, {}).url.host).toBe('api-in.mixpanel.com');
  });

  it('takes any apiHost, keeping its path prefix', () => {
    const config = normalizeOptions({ apiHost: 'http://127.0.0.1:7600/mp/' }, {});
    expect(config.url.href).toBe('http://127.0.0.1:7600/mp/import?strict=1&ip=0');
    expect(config.canSend).toBe(true);
  });

  it('uses a service account with project_id when given', () => {
    const config = normalizeOptions({ serviceAccount: { username: 'sa.user', secret: 's3cret', projectId: 123 } }, {});
    expect(config.url.searchParams.get('project_id')).toBe('123');
    expect(config.authorization).toBe('Basic ' + Buffer.from('sa.user:s3cret').toString('base64'));
  });

  it('sends /track with verbose=1 and no Authorization header', () => {
    const config = normalizeOptions({ endpoint: 'track', token: 't' }, {});
    expect(config.url.pathname).toBe('/track');
    expect(config.url.searchParams.get('verbose')).toBe('1');
    expect(config.authorization).toBeUndefined();
  });

  it('cannot send without a token or an apiHost', () => {
    expect(normalizeOptions({}, {}).canSend).toBe(false);
  });

  it('names a misspelt option and suggests the right one', () => {
    const error = configError({ flushInterval: 10 });
    expect(error.option).toBe('flushInterval');
    expect(error.message).toContain('flushIntervalMs');
    expect(configError({ tokn: 'x' }).message).toContain('did you mean `token`');
    expect(configError({ cookie: { nmae: 'x' } }).message).toContain('cookie.name');
  });

  it.each([
    [{ apiHost: 'not a url' }, 'apiHost'],
    [{ apiHost: 'ftp://example.com' }, 'apiHost'],
    [{ apiHost: 'https://user:pw@example.com' }, 'apiHost'],
    [{ apiHost: 'http://x', region: 'EU' }, 'apiHost'],
    [{ region: 'MARS' }, 'region'],
    [{ endpoint: 'engage' }, 'endpoint'],
    [{ flushAt: 0 }, 'flushAt'],
    [{ maxBatchSize: 5000 }, 'maxBatchSize'],
    [{ maxRetries: -1 }, 'maxRetries'],
    [{ gzip: 11 }, 'gzip'],
    [{ getUserId: 'req.user.id' }, 'getUserId'],
    [{ onError: true }, 'onError'],
    [{ logger: {} }, 'logger'],
    [{ identifyEvent: '$identify' }, 'identifyEvent'],
    [{ superProperties: [1] }, 'superProperties'],
    [{ serviceAccount: { username: 'u', secret: 's', projectId: 'abc' } }, 'serviceAccount.projectId'],
    [{ endpoint: 'track', serviceAccount: { username: 'u', secret: 's', projectId: 1 } }, 'serviceAccount'],
    [{ cookie: { maxAge: 34_560_000_000 } }, 'cookie.maxAge'],
    [{ cookie: { sameSite: 'none', secure: false } }, 'cookie.sameSite'],
    [{ cookie: { name: '__Host-id', domain: 'example.com' } }, 'cookie.name'],
    [{ cookie: { name: 'bad name;' } }, 'cookie'],
  ])('rejects %j naming `%s`', (options, option) => {
    expect(configError(options).option).toBe(option);
  });

  it('never mutates the options object and freezes the result', () => {
    const options = Object.freeze({ token: 't', cookie: Object.freeze({ name: 'sid' }) });
    const config = normalizeOptions(options, {});
    expect(Object.isFrozen(config)).toBe(true);
    expect(config.cookie.name).toBe('sid');
  });

  it('keeps secrets out of error messages', () => {
    const error = configError({ token: 'super-secret-token', flushAt: 'many' });
    expect(error.message).not.toContain('super-secret-token');
  });

  it('precomputes cookie attributes: HttpOnly, SameSite=Lax, Path=/, 400 days, Secure only over HTTPS', () => {
    const { cookie } = normalizeOptions({}, {});
    expect(cookie.name).toBe(DEFAULTS.cookie.name);
    expect(cookie.attributes.insecure).toBe('; Max-Age=34560000; Path=/; HttpOnly; SameSite=Lax');
    expect(cookie.attributes.secure).toBe('; Max-Age=34560000; Path=/; HttpOnly; Secure; SameSite=Lax');
  });

  it('makes a session cookie with maxAge: null, and a Secure-only one for __Host- names', () => {
    expect(normalizeOptions({ cookie: { maxAge: null } }, {}).cookie.attributes.insecure).not.toContain('Max-Age');
    expect(normalizeOptions({ cookie: { name: '__Host-did' } }, {}).cookie.attributes.insecure).toContain('Secure');
  });
});
