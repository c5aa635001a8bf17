export { startCollector, type Collector } from './server.js';
export { COLLECTOR_DEFAULTS, type CollectorOptions, type CollectorConfig, type Endpoint } from './options.js';
export type { FaultSpec, FaultTimes } from './faults.js';
export { CollectorStore, type StoredEvent, type Profile, type EventRecord } from './store.js';
export { IdentityGraph, deriveIdentity, DEVICE_PREFIX, IDENTITY_EVENTS, ASSIGNED_ALREADY, type DerivedIdentity } from './identity.js';
export { IDENTITY_EVENT_MESSAGE } from './validation.js';
export { lookupIdentity, clusterEvents, listClusters, type FeedEvent, type IdentityView, type ClusterView } from './query.js';
export { runDemo, demoTables, formatDemo, type DemoFlow, type DemoStage, type DemoRow, type DemoCorrection } from './demo.js';
export {
  runDoctor,
  formatDoctorReport,
  DoctorError,
  DOCTOR_CHECKS,
  DOCTOR_DEFAULTS,
  MAX_EXAMPLES,
  type DoctorSource,
  type DoctorOptions,
  type DoctorReport,
  type DoctorCheck,
  type DoctorExample,
  type ExampleEvent,
  type CheckId,
  type CheckStatus,
  type Fact,
  type DoctorErrorCode,
} from '../doctor/index.js';
