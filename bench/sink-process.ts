// Child process: the bench sink (bench/sink.ts) in its own process, so its parsing and its garbage
// stay out of the process being measured. Driven over IPC: counts, cpu, reset, exit.
import { serveParent, type Message } from './child.js';
import { startSink, type SinkOptions } from './sink.js';

/** No sink outlives this, whatever the parent does (ms). */
const LIFETIME_MS = 45 * 60_000;

const sink = await startSink({ trackInsertIds: true });
serveParent((message: Message) => {
  switch (message.type) {
    case 'counts':
      return { type: 'counts', counts: sink.counts() };
    case 'cpu': {
      // Lets a benchmark see whether the core it shares with the load generator was saturated.
      const usage = process.cpuUsage();
      return { type: 'cpu', micros: usage.user + usage.system };
    }
    case 'reset':
      sink.reset({ trackInsertIds: true, ...(message.options as SinkOptions | undefined) });
      return undefined;
    default:
      throw new Error(`unknown message ${message.type}`);
  }
}, LIFETIME_MS);
process.send?.({ type: 'ready', url: sink.url });
