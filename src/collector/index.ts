// idstitch/collector: the local Mixpanel-compatible collector, and the doctor that checks recorded
// data against Mixpanel's QA list.
export { startCollector, type Collector } from './server.js';
export { COLLECTOR_DEFAULTS, type CollectorOptions, type CollectorConfig, type Endpoint } from './options.js';
export type { FaultSpec, FaultTimes } from './faults.js';
export type { CollectorStore, StoredEvent, Profile } from './store.js';
export type { FeedEvent, IdentityView, ClusterView } from './query.js';
export { runDoctor, type DoctorSource } from './doctor.js';
export { formatDoctorReport } from '../doctor/format.js';
export { DoctorError, type DoctorErrorCode } from '../doctor/errors.js';
export { DOCTOR_CHECKS } from '../doctor/checks.js';
export { DOCTOR_DEFAULTS, MAX_EXAMPLES, type DoctorOptions } from '../doctor/options.js';
export type { CheckId, CheckStatus, DoctorCheck, DoctorExample, DoctorReport, ExampleEvent, Fact } from '../doctor/report.js';
