/**
 * Every error idstitch reports or throws is an `IdstitchError` with a stable `code`.
 * Tell errors apart by `code` (or `instanceof`), never by message text: messages may improve.
 * Messages never contain a token, secret or credential.
 */
export type ErrorCode =
  | 'IDSTITCH_INVALID_OPTION'
  | 'IDSTITCH_INVALID_EVENT_NAME'
  | 'IDSTITCH_IDENTITY_EVENT'
  | 'IDSTITCH_INVALID_PROPERTIES'
  | 'IDSTITCH_RESERVED_PROPERTY'
  | 'IDSTITCH_EVENT_TOO_LARGE'
  | 'IDSTITCH_INVALID_USER_ID'
  | 'IDSTITCH_INVALID_DEVICE_ID'
  | 'IDSTITCH_GET_USER_ID_FAILED'
  | 'IDSTITCH_CONSENT_FAILED'
  | 'IDSTITCH_QUEUE_FULL'
  | 'IDSTITCH_NOT_CONFIGURED'
  | 'IDSTITCH_TRACKER_CLOSED'
  | 'IDSTITCH_HEADERS_SENT'
  | 'IDSTITCH_COOKIE_READ_ONLY'
  | 'IDSTITCH_INVALID_PROFILE_UPDATE'
  | 'IDSTITCH_PROFILE_HELD_FULL'
  | 'IDSTITCH_PROFILE_NEEDS_SECRET'
  | 'IDSTITCH_UNAUTHORIZED'
  | 'IDSTITCH_RECORDS_REJECTED'
  | 'IDSTITCH_DELIVERY_FAILED'
  | 'IDSTITCH_UNACKNOWLEDGED'
  | 'IDSTITCH_SHUTDOWN_TIMEOUT'
  | 'IDSTITCH_INTERNAL';

export class IdstitchError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'IdstitchError';
  }
}

/** Thrown at construction for a bad option; names the option and what it accepts. */
export class ConfigError extends IdstitchError {
  readonly option: string;
  constructor(option: string, message: string) {
    super('IDSTITCH_INVALID_OPTION', `idstitch: option \`${option}\` ${message}`);
    this.name = 'ConfigError';
    this.option = option;
  }
}

/** An event that was refused before it was queued: bad name, bad properties, too large. */
export class InvalidEventError extends IdstitchError {
  readonly event: string | undefined;
  constructor(
    code: Extract<
      ErrorCode,
      | 'IDSTITCH_INVALID_EVENT_NAME'
      | 'IDSTITCH_IDENTITY_EVENT'
      | 'IDSTITCH_INVALID_PROPERTIES'
      | 'IDSTITCH_RESERVED_PROPERTY'
      | 'IDSTITCH_EVENT_TOO_LARGE'
      | 'IDSTITCH_INVALID_PROFILE_UPDATE'
    >,
    message: string,
    event: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'InvalidEventError';
    this.event = event;
  }
}

/** A user id that cannot be sent to Mixpanel (deny-listed, empty, too long, wrong type) or a throwing resolver. */
export class UserIdError extends IdstitchError {
  constructor(
    code: Extract<ErrorCode, 'IDSTITCH_INVALID_USER_ID' | 'IDSTITCH_GET_USER_ID_FAILED'>,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'UserIdError';
  }
}

/**
 * Events that left the queue without being ingested. `count` says how many, `reason` why
 * (the same name as the `stats().dropped` counter that was incremented).
 */
export class DeliveryError extends IdstitchError {
  readonly reason: string;
  readonly count: number;
  readonly status: number | undefined;
  /** For partial rejections: the failed records as the API reported them (index within the batch, insert id, message). */
  readonly records: ReadonlyArray<{ index: number | undefined; insertId: string | undefined; message: string }>;
  constructor(
    code: Extract<
      ErrorCode,
      | 'IDSTITCH_UNAUTHORIZED'
      | 'IDSTITCH_RECORDS_REJECTED'
      | 'IDSTITCH_DELIVERY_FAILED'
      | 'IDSTITCH_UNACKNOWLEDGED'
      | 'IDSTITCH_QUEUE_FULL'
      | 'IDSTITCH_SHUTDOWN_TIMEOUT'
    >,
    message: string,
    details: {
      reason: string;
      count: number;
      status?: number | undefined;
      records?: DeliveryError['records'];
      cause?: unknown;
    },
  ) {
    super(code, message, { cause: details.cause });
    this.name = 'DeliveryError';
    this.reason = details.reason;
    this.count = details.count;
    this.status = details.status;
    this.records = details.records ?? [];
  }
}
