/**
 * Why the doctor could not run. Its own class because `IdstitchError`'s codes name the tracker's
 * failures; tell these apart by `code`, never by message text.
 */
export type DoctorErrorCode =
  /** `runDoctor` was given no source, two sources, or a bad option. */
  | 'IDSTITCH_DOCTOR_INVALID_ARGUMENT'
  /** The file is missing, or not a collector database, NDJSON or a JSON array. */
  | 'IDSTITCH_DOCTOR_UNREADABLE'
  /** The collector's URL did not answer, or answered something other than a report. */
  | 'IDSTITCH_DOCTOR_UNREACHABLE';

export class DoctorError extends Error {
  readonly code: DoctorErrorCode;
  constructor(code: DoctorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'DoctorError';
  }
}
