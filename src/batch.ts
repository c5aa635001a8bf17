/**
 * Events ready to send: their JSON, comma-separated, in one buffer (the request body without its
 * brackets), and where each event ends, so a 413 can split the batch and a partial rejection can
 * name the records by index without keeping a JS object per event.
 */
export class Batch {
  readonly body: Buffer;
  /** End offset (exclusive) of each event in `body`. */
  readonly ends: readonly number[];
  /** Position, in push order, of the batch's last event. */
  readonly lastSeq: number;

  constructor(body: Buffer, ends: readonly number[], lastSeq: number) {
    this.body = body;
    this.ends = ends;
    this.lastSeq = lastSeq;
  }

  get count(): number {
    return this.ends.length;
  }

  /** Bytes of the events themselves, without the commas between them. */
  get eventBytes(): number {
    return this.body.length - (this.ends.length - 1);
  }

  /** The JSON of event `index`. */
  event(index: number): Buffer {
    const start = index === 0 ? 0 : this.ends[index - 1]! + 1;
    return this.body.subarray(start, this.ends[index]);
  }

  /** Events `from` (inclusive) to `to` (exclusive) as a batch of their own, sharing this one's memory. */
  slice(from: number, to: number): Batch {
    const start = from === 0 ? 0 : this.ends[from - 1]! + 1;
    const end = this.ends[to - 1]!;
    return new Batch(
      this.body.subarray(start, end),
      this.ends.slice(from, to).map((offset) => offset - start),
      this.lastSeq - (this.count - to),
    );
  }

  /** The `$insert_id` of event `index`, read back from its JSON (only needed to report a rejection). */
  insertId(index: number): string | undefined {
    try {
      const parsed = JSON.parse(this.event(index).toString('utf8')) as { properties?: { $insert_id?: unknown } };
      const id = parsed.properties?.$insert_id;
      return typeof id === 'string' ? id : undefined;
    } catch {
      return undefined;
    }
  }
}
