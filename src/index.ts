// idstitch: the tracker, its options, errors and counters. The framework middlewares are
// idstitch/express, idstitch/koa and idstitch/next; the local collector is idstitch/collector.
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
export type { PrivacyOptions } from './privacy.js';
export type { RequestPropertiesOption, RequestPropertiesOptions } from './request-properties.js';
export type { DeviceIdSource } from './browser-sdk-cookie.js';
export type { People } from './people.js';
export type { Identity } from './event.js';
export { IdstitchError, ConfigError, InvalidEventError, UserIdError, DeliveryError, type ErrorCode } from './errors.js';
export type { TrackerStats, DropReason } from './stats.js';
export type { Logger } from './report.js';
export { LIBRARY_VERSION } from './version.js';
