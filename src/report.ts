import type { IdstitchError } from './errors.js';

/** Where diagnostics go. `console` and pino loggers fit. Never stdout by default: the host owns it. */
export interface Logger {
  warn(message: string): void;
  error(message: string): void;
}

const stderrLogger: Logger = {
  warn: (message) => process.stderr.write(`idstitch warn: ${message}\n`),
  error: (message) => process.stderr.write(`idstitch error: ${message}\n`),
};

const LOUD = new Set(['IDSTITCH_UNAUTHORIZED', 'IDSTITCH_SHUTDOWN_TIMEOUT', 'IDSTITCH_DELIVERY_FAILED', 'IDSTITCH_UNACKNOWLEDGED']);

/**
 * Routes every error to `onError` when the app gave one; otherwise logs the first of each code
 * (later ones only count in `stats()`), so a bad cookie storm cannot flood the host's logs.
 * Never throws: a throwing `onError` is logged once and otherwise ignored.
 */
export class Reporter {
  readonly #onError: ((error: IdstitchError) => void) | undefined;
  readonly #logger: Logger | undefined;
  readonly #seen = new Set<string>();
  readonly #reportedOnce = new Set<string>();

  constructor(onError: ((error: IdstitchError) => void) | undefined, logger: Logger | false | undefined) {
    this.#onError = onError;
    this.#logger = logger === false ? undefined : (logger ?? stderrLogger);
  }

  report(error: IdstitchError): void {
    if (this.#onError) {
      try {
        this.#onError(error);
      } catch (thrown) {
        this.once('onError-threw', `onError threw (${(thrown as Error)?.message ?? String(thrown)}); further throws are ignored`, 'error');
      }
      return;
    }
    this.once(
      error.code,
      `${error.message} [${error.code}]${this.#seen.has(error.code) ? '' : ' (further reports of this code are counted in stats(), not logged)'}`,
      LOUD.has(error.code) ? 'error' : 'warn',
    );
  }

  /** Reports the first error of its code only: a setup problem that every request would repeat. */
  reportOnce(error: IdstitchError): void {
    if (this.#reportedOnce.has(error.code)) return;
    this.#reportedOnce.add(error.code);
    this.report(error);
  }

  /** Logs `message` the first time `key` is seen, at `level`. */
  once(key: string, message: string, level: 'warn' | 'error' = 'warn'): void {
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    try {
      this.#logger?.[level](message);
    } catch {
      // A broken logger must not break delivery or the request.
    }
  }
}
