import { describe, expect, it } from 'vitest';
import { Batch } from '../src/batch.js';

const events = [
  '{"event":"A","properties":{"$insert_id":"a-1"}}',
  '{"event":"É","properties":{"$insert_id":"b-2"}}',
  '{"event":"C","properties":{}}',
];
const body = Buffer.from(events.join(','));
const ends = events.reduce<number[]>((acc, json, i) => [...acc, (i === 0 ? 0 : acc[i - 1]! + 1) + Buffer.byteLength(json)], []);

describe('Batch', () => {
  const batch = new Batch(body, ends, 3);

  it('gives back each event and its $insert_id by index', () => {
    expect(batch.count).toBe(3);
    expect(batch.event(1).toString()).toBe(events[1]);
    expect(batch.insertId(0)).toBe('a-1');
    expect(batch.insertId(2)).toBeUndefined();
  });

  it('counts event bytes without the commas', () => {
    expect(batch.eventBytes).toBe(events.reduce((sum, json) => sum + Buffer.byteLength(json), 0));
  });

  it('slices into halves that are valid batches of their own, as a 413 split needs', () => {
    const first = batch.slice(0, 2);
    const second = batch.slice(2, 3);
    expect(JSON.parse(`[${first.body.toString()}]`)).toHaveLength(2);
    expect(first.event(1).toString()).toBe(events[1]);
    expect(second.body.toString()).toBe(events[2]);
    expect(second.insertId(0)).toBeUndefined();
    expect(batch.slice(1, 3).insertId(0)).toBe('b-2');
  });
});
