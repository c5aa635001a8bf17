import { DoctorError } from './errors.js';

export interface DoctorOptions {
  /** Examples per check, and events per example. Default 5, at most `MAX_EXAMPLES`. */
  readonly examples?: number;
}

export const DOCTOR_DEFAULTS = { examples: 5 } as const;
/** More examples than this belong in a query (`/api/events`), not in a report. */
export const MAX_EXAMPLES = 100;

/** `options.examples`, checked once; a bad one is a `DoctorError` naming what it accepts. */
export function examplesOf(options: DoctorOptions): number {
  const value: unknown = options.examples;
  if (value === undefined) return DOCTOR_DEFAULTS.examples;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_EXAMPLES) return value;
  throw new DoctorError(
    'IDSTITCH_DOCTOR_INVALID_ARGUMENT',
    `examples must be an integer from 0 to ${MAX_EXAMPLES}, got ${JSON.stringify(value)}`,
  );
}
