// What a User-Agent says, named as mixpanel-browser names it (`$browser`, `$browser_version`, `$os`,
// `$device`), so server events and client events about the same visit agree in Mixpanel's reports.

export interface UserAgentInfo {
  browser: string | undefined;
  /** Major and minor as one number (`17.2`), as mixpanel-browser sends it. */
  browserVersion: number | undefined;
  os: string | undefined;
  device: string | undefined;
}

interface BrowserRule {
  readonly name: string;
  readonly matches: (ua: string) => boolean;
  /** The version's capture group is named `v`. */
  readonly version?: RegExp;
}

const has =
  (token: string) =>
  (ua: string): boolean =>
    ua.includes(token);
const BLACKBERRY = /BlackBerry|PlayBook|BB10/i;
/**
 * The browser sees `navigator.vendor` and tells Safari by its `Apple` vendor; a server sees only the
 * User-Agent. Every WebKit browser on Apple hardware has that vendor, and the ones with their own
 * token (CriOS, FxiOS, EdgiOS, FBIOS) are named by an earlier rule.
 */
const appleVendor = (ua: string): boolean => ua.includes('AppleWebKit') && /iPhone|iPad|iPod|Macintosh/.test(ua);

/**
 * mixpanel-browser's browser names, tested in its order: many User-Agents carry the tokens of
 * others (Edge says Chrome and Safari, Chrome says Safari), so the first match wins.
 */
const BROWSERS: readonly BrowserRule[] = [
  { name: 'Opera Mini', matches: (ua) => isOpera(ua) && ua.includes('Mini') },
  { name: 'Opera', matches: isOpera, version: /(?:Opera|OPR)\/(?<v>\d+(?:\.\d+)?)/ },
  { name: 'BlackBerry', matches: (ua) => BLACKBERRY.test(ua), version: /BlackBerry (?<v>\d+(?:\.\d+)?)/ },
  {
    name: 'Internet Explorer Mobile',
    matches: (ua) => ua.includes('IEMobile') || ua.includes('WPDesktop'),
    version: /rv:(?<v>\d+(?:\.\d+)?)/,
  },
  { name: 'Samsung Internet', matches: has('SamsungBrowser/'), version: /SamsungBrowser\/(?<v>\d+(?:\.\d+)?)/ },
  { name: 'Microsoft Edge', matches: (ua) => ua.includes('Edge') || ua.includes('Edg/'), version: /Edge?\/(?<v>\d+(?:\.\d+)?)/ },
  { name: 'Facebook Mobile', matches: has('FBIOS') },
  { name: 'Whale Browser', matches: has('Whale/'), version: /Whale\/(?<v>\d+(?:\.\d+)?)/ },
  { name: 'Chrome', matches: has('Chrome'), version: /Chrome\/(?<v>\d+(?:\.\d+)?)/ },
  { name: 'Chrome iOS', matches: has('CriOS'), version: /CriOS\/(?<v>\d+(?:\.\d+)?)/ },
  {
    name: 'UC Browser',
    matches: (ua) => ua.includes('UCWEB') || ua.includes('UCBrowser'),
    version: /(?:UCBrowser|UCWEB)\/(?<v>\d+(?:\.\d+)?)/,
  },
  { name: 'Firefox iOS', matches: has('FxiOS'), version: /FxiOS\/(?<v>\d+(?:\.\d+)?)/ },
  { name: 'Mobile Safari', matches: (ua) => appleVendor(ua) && ua.includes('Mobile'), version: /Version\/(?<v>\d+(?:\.\d+)?)/ },
  { name: 'Safari', matches: appleVendor, version: /Version\/(?<v>\d+(?:\.\d+)?)/ },
  { name: 'Android Mobile', matches: has('Android'), version: /android\s(?<v>\d+(?:\.\d+)?)/ },
  { name: 'Konqueror', matches: has('Konqueror'), version: /Konqueror:(?<v>\d+(?:\.\d+)?)/ },
  { name: 'Firefox', matches: has('Firefox'), version: /Firefox\/(?<v>\d+(?:\.\d+)?)/ },
  {
    name: 'Internet Explorer',
    matches: (ua) => ua.includes('MSIE') || ua.includes('Trident/'),
    version: /(?:rv:|MSIE )(?<v>\d+(?:\.\d+)?)/,
  },
  { name: 'Mozilla', matches: has('Gecko'), version: /rv:(?<v>\d+(?:\.\d+)?)/ },
];

/** Presto-era Opera announced itself first (`Opera/9.80`); the browser side detects it by `window.opera`. */
function isOpera(ua: string): boolean {
  return ua.includes(' OPR/') || ua.startsWith('Opera/');
}

/** mixpanel-browser's operating systems, in its order (Android says Linux, iOS says Mac OS X). */
const SYSTEMS: ReadonlyArray<readonly [string, (ua: string) => boolean]> = [
  ['Windows Phone', (ua) => /Windows/i.test(ua) && (ua.includes('Phone') || ua.includes('WPDesktop'))],
  ['Windows', (ua) => /Windows/i.test(ua)],
  ['iOS', (ua) => /iPhone|iPad|iPod/.test(ua)],
  ['Android', has('Android')],
  ['BlackBerry', (ua) => BLACKBERRY.test(ua)],
  ['Mac OS X', (ua) => /Mac/i.test(ua)],
  ['Linux', has('Linux')],
  ['Chrome OS', has('CrOS')],
];

/** mixpanel-browser's device names; desktops have none. */
const DEVICES: ReadonlyArray<readonly [string, (ua: string) => boolean]> = [
  ['Windows Phone', (ua) => /Windows Phone/i.test(ua) || ua.includes('WPDesktop')],
  ['iPad', has('iPad')],
  ['iPod Touch', has('iPod')],
  ['iPhone', has('iPhone')],
  ['BlackBerry', (ua) => BLACKBERRY.test(ua)],
  ['Android', has('Android')],
];

/**
 * Browser, version, operating system and device from a User-Agent, named as mixpanel-browser names
 * them. No dependency: a full parser (ua-parser-js, bowser) knows thousands of agents but names
 * them differently (`Mobile Safari` vs `Safari`, `macOS` vs `Mac OS X`), which would split one
 * browser into two values in every report that mixes client and server events.
 */
export function parseUserAgent(ua: string): UserAgentInfo {
  const rule = BROWSERS.find((candidate) => candidate.matches(ua));
  const version = rule?.version?.exec(ua)?.groups?.v;
  return {
    browser: rule?.name,
    browserVersion: version === undefined ? undefined : Number.parseFloat(version),
    os: SYSTEMS.find(([, matches]) => matches(ua))?.[0],
    device: DEVICES.find(([, matches]) => matches(ua))?.[0],
  };
}
