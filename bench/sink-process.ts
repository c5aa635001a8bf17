// Child process: a strict /import sink (bench/sink.ts) in its own process, so its parsing and its
// garbage stay out of the process being measured. Driven over IPC: counts, reset, exit.
import { serveParent, type Message } from './child.js';
import { startSink, type SinkOptions } from './sink.js';

/** No sink outlives this, whatever the parent does (ms). */
const LIFETIME_MS = 15 * 60_000;

const sink = await startSink({ trackInsertIds: true });
serveParent((message: Message) => {
  switch (message.type) {
    case 'counts':
      return { type: 'counts', counts: sink.counts() };
    case 'reset':
      sink.reset({ trackInsertIds: true, ...(message.options as SinkOptions | undefined) });
      return undefined;
    default:
      throw new Error(`unknown message ${message.type}`);
  }
}, LIFETIME_MS);
process.send?.({ type: 'ready', url: sink.url });
