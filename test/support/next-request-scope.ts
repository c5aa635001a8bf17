// Runs code inside a Next.js request the way Next's server does for a page render or a Server
// Action: the real `workAsyncStorage` / `workUnitAsyncStorage` stores that `cookies()`,
// `headers()` and `after()` read. These are Next internals (pinned by the devDependency); the
// end-to-end test (test/examples/next.test.ts) checks the same paths on a real `next start`.
import 'next/dist/server/node-environment-baseline.js'; // AsyncLocalStorage on globalThis, before the stores load
import { workAsyncStorage } from 'next/dist/server/app-render/work-async-storage.external.js';
import { workUnitAsyncStorage } from 'next/dist/server/app-render/work-unit-async-storage.external.js';
import { createRequestStoreForAPI } from 'next/dist/server/async-storage/request-store.js';
import { createWorkStore } from 'next/dist/server/async-storage/work-store.js';

export interface NextRequestRun<T> {
  /** What `fn` returned (or the error it threw, as a rejection). */
  result: Promise<T>;
  /** Set-Cookie lines written through `cookies().set` / `.delete`, latest call's view. */
  readonly cookiesSet: () => string[];
  /** Ends the response: `after()` callbacks start; resolves when they (and every waitUntil) settle. */
  close(): Promise<void>;
}

export interface NextRequestInit {
  /** `'render'`: a Server Component (cookies read-only); `'action'`: a Server Action or Route Handler. */
  phase: 'render' | 'action';
  /** Request headers, lower-case names, as Node gives them. */
  headers?: Record<string, string>;
  url?: string;
}

export function runInNextRequest<T>(init: NextRequestInit, fn: () => T | Promise<T>): NextRequestRun<T> {
  const url = new URL(init.url ?? 'http://localhost/');
  const closeListeners: Array<() => void> = [];
  const pending: Array<Promise<unknown>> = [];
  let cookiesSet: string[] = [];
  const workStore = createWorkStore({
    page: '/page',
    renderOpts: {
      experimental: {},
      waitUntil: (promise: Promise<unknown>) => void pending.push(promise),
      onClose: (listener: () => void) => void closeListeners.push(listener),
      onAfterTaskError: undefined,
    },
    isPrefetchRequest: false,
    buildId: 'test',
    previouslyRevalidatedTags: [],
  } as unknown as Parameters<typeof createWorkStore>[0]);
  const requestStore = createRequestStoreForAPI(
    { headers: { 'x-forwarded-proto': url.protocol.slice(0, -1), ...init.headers } } as never,
    { pathname: url.pathname, search: url.search },
    { tags: [], expirationsByCacheKind: new Map() } as never,
    (lines: string[]) => {
      cookiesSet = lines;
    },
    undefined as never,
    undefined,
  );
  requestStore.phase = init.phase;
  const result = workAsyncStorage.run(workStore, () => workUnitAsyncStorage.run(requestStore, async () => fn()));
  return {
    result,
    cookiesSet: () => cookiesSet,
    async close() {
      await result.catch(() => {});
      for (const listener of closeListeners.splice(0)) listener();
      // waitUntil promises can add more (after() inside after()): settle until none are left.
      while (pending.length > 0) await Promise.all(pending.splice(0));
    },
  };
}
