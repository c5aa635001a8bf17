export type { People } from './people.js';
export type { DeviceIdSource } from './browser-sdk-cookie.js';
export type { PrivacyOptions } from './privacy.js';
export type { RequestPropertiesOption, RequestPropertiesOptions } from './request-properties.js';
export { createTracker, isTracker, Tracker, type ShutdownOptions } from './tracker.js';
export {
  DEFAULTS,
  REGION_HOSTS,
  API_LIMITS,
  type TrackerOptions,
  type CookieOptions,
  type ServiceAccount,
  type GetUserId,
} from './options.js';
export { IdstitchError, ConfigError, InvalidEventError, UserIdError, DeliveryError, type ErrorCode } from './errors.js';
export type { TrackerStats, DropReason } from './stats.js';
export type { Logger } from './report.js';
export type { Identity } from './event.js';
export { NodeRequestContext, socketIsSecure, type RequestContext, type IsSecure } from './request-context.js';
export { RequestScope } from './request-scope.js';
export { DENYLISTED_IDS, normalizeUserId } from './user.js';
export { LIBRARY_VERSION } from './version.js';
