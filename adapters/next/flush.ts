// Sending what a request tracked once its response is done, wherever Next runs: after() inside an
// App Router request, the platform's waitUntil elsewhere (serverless), or at once on a long-lived server.
import { after } from 'next/server.js';
import type { Tracker } from '../../src/tracker.js';

/** Where serverless hosts put `waitUntil` for Next (after.mdx, "supporting after for serverless platforms"). */
const REQUEST_CONTEXT = Symbol.for('@next/request-context');

export function flushAfterResponse(tracker: Tracker): void {
  const flush = (): Promise<void> => tracker.flush();
  try {
    after(flush);
    return;
  } catch {
    // Outside an App Router request (Pages API routes, tests): no after().
  }
  const waitUntil = platformWaitUntil();
  if (waitUntil) waitUntil(flush());
  else void flush(); // a long-lived server: start sending now; flush() never rejects
}

function platformWaitUntil(): ((promise: Promise<unknown>) => void) | undefined {
  try {
    const context = (globalThis as { [REQUEST_CONTEXT]?: { get?: () => { waitUntil?: unknown } | undefined } })[REQUEST_CONTEXT]?.get?.();
    const waitUntil = context?.waitUntil;
    return typeof waitUntil === 'function' ? (waitUntil.bind(context) as (promise: Promise<unknown>) => void) : undefined;
  } catch {
    return undefined;
  }
}
