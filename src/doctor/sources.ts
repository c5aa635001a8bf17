import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DoctorError } from './errors.js';
import { ProfileBook, readRecord } from './records.js';
import type { DoctorEvent, DoctorInput, DoctorProfile, DoctorReport } from './report.js';

/** How long `--url` waits for the collector's report (ms); a large store takes a while to analyse. */
export const REPORT_TIMEOUT_MS = 120_000;

/**
 * Mixpanel-shaped records, in the order they were ingested: events (`{event, properties}`) and profiles
 * (`/engage` updates or exported `{$distinct_id, $properties}`). When every event carries
 * `mp_processing_time_ms` (a raw export does), that is the ingestion order and first-link-wins follows it;
 * otherwise the records' order stands for it.
 */
export function readRecords(
  records: Iterable<unknown>,
  description: string,
): DoctorInput & { readonly events: DoctorEvent[]; readonly profiles: DoctorProfile[] } {
  const events: Array<{ event: DoctorEvent; processedAt: number | undefined }> = [];
  const profiles = new ProfileBook();
  let skipped = 0;
  for (const record of records) {
    const read = readRecord(record);
    if (read.kind === 'event') events.push(read);
    else if (read.kind === 'profile') profiles.apply(read.record);
    else skipped++;
  }
  if (events.length > 0 && events.every((event) => event.processedAt !== undefined)) {
    events.sort((a, b) => a.processedAt! - b.processedAt!); // stable: file order breaks ties
  }
  return { description, events: events.map((read) => read.event), profiles: [...profiles.profiles()], skipped };
}

/**
 * An NDJSON file (Mixpanel's raw export: one JSON object a line), or a JSON array (an `/import` or
 * `/engage` request body); either may be gzip-compressed. Lines that are not JSON are counted as skipped.
 */
export async function readNdjsonFile(path: string): Promise<DoctorInput> {
  const records: unknown[] = [];
  let skipped = 0;
  let array: string[] | undefined;
  try {
    for await (const line of lines(path, await isGzip(path))) {
      if (array) {
        array.push(line);
        continue;
      }
      const text = line.trim();
      if (text === '') continue;
      if (records.length === 0 && skipped === 0 && text.startsWith('[')) {
        array = [line];
        continue;
      }
      try {
        records.push(JSON.parse(text));
      } catch {
        skipped++;
      }
    }
  } catch (error) {
    if (error instanceof DoctorError) throw error;
    throw new DoctorError('IDSTITCH_DOCTOR_UNREADABLE', `${path}: ${(error as Error).message}`, { cause: error });
  }
  if (array) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(array.join('\n'));
    } catch (error) {
      throw new DoctorError(
        'IDSTITCH_DOCTOR_UNREADABLE',
        `${path} starts like a JSON array but is not valid JSON (${(error as Error).message})`,
        { cause: error },
      );
    }
    if (!Array.isArray(parsed)) throw new DoctorError('IDSTITCH_DOCTOR_UNREADABLE', `${path} is not a JSON array`);
    records.push(...(parsed as unknown[]));
  }
  const input = readRecords(records, `NDJSON ${path}`);
  const total = input.skipped + skipped;
  if (input.events.length === 0 && input.profiles.length === 0 && total > 0) {
    throw new DoctorError(
      'IDSTITCH_DOCTOR_UNREADABLE',
      `${path}: none of its ${total} records is a Mixpanel event ({"event", "properties"}) or profile ({"$distinct_id", …})`,
    );
  }
  return { ...input, skipped: total };
}

async function isGzip(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new DoctorError(
      'IDSTITCH_DOCTOR_UNREADABLE',
      code === 'ENOENT' ? `${path}: no such file` : `${path}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

function lines(path: string, gzip: boolean): AsyncIterable<string> {
  const file = createReadStream(path);
  let input: Readable = file;
  if (gzip) {
    const gunzip = createGunzip();
    file.on('error', (error) => gunzip.destroy(error));
    input = file.pipe(gunzip);
  }
  return createInterface({ input, crlfDelay: Infinity });
}

/** A running collector's report, from `GET /api/doctor` (Basic auth with the token when it has one). */
export async function fetchReport(url: string, token: string | undefined, examples: number): Promise<DoctorReport> {
  const endpoint = `${url.replace(/\/+$/, '')}/api/doctor?examples=${examples}`;
  let response: Response;
  try {
    response = await fetch(endpoint, {
      headers: {
        accept: 'application/json',
        ...(token !== undefined ? { authorization: `Basic ${Buffer.from(`${token}:`).toString('base64')}` } : {}),
      },
      signal: AbortSignal.timeout(REPORT_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    const why = String(cause?.code ?? cause?.message ?? (error as Error).message);
    throw new DoctorError('IDSTITCH_DOCTOR_UNREACHABLE', `${url}: no collector answered (${why}); start one with 'idstitch collector'`, {
      cause: error,
    });
  }
  const text = await response.text();
  if (response.status === 401) throw new DoctorError('IDSTITCH_DOCTOR_UNREACHABLE', `${url}: the collector wants its token (--token)`);
  if (response.status !== 200)
    throw new DoctorError('IDSTITCH_DOCTOR_UNREACHABLE', `${endpoint} answered ${response.status}: ${text.slice(0, 200)}`);
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch {
    report = undefined;
  }
  const shaped = report as Partial<DoctorReport> | undefined;
  if (!shaped || !Array.isArray(shaped.checks) || typeof shaped.status !== 'string') {
    throw new DoctorError('IDSTITCH_DOCTOR_UNREACHABLE', `${endpoint} did not answer with a doctor report: is it an idstitch collector?`);
  }
  return shaped as DoctorReport;
}
