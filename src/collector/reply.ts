import type { ServerResponse } from 'node:http';
import { errorBody, sendJson, sendReceived } from './http.js';

/**
 * What a handler decided to answer, kept apart from writing it so a fault injected "after ingest"
 * can replace the answer of a request that was processed.
 */
export type Reply =
  | { readonly kind: 'json'; readonly status: number; readonly body: unknown; readonly headers?: Record<string, string> }
  /** The `/track`-style `1`/`0` (or verbose, pixel, JSONP) answer, always HTTP 200. */
  | {
      readonly kind: 'received';
      readonly params: URLSearchParams;
      readonly ok: boolean;
      readonly error: string | null;
      readonly headers?: Record<string, string>;
    };

export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return headers ? { kind: 'json', status, body, headers } : { kind: 'json', status, body };
}

/** A Mixpanel-shaped `{code, error, status}` reply. */
export function failure(status: number, error?: string, extra: Record<string, unknown> = {}): Reply {
  return json(status, { ...errorBody(status, error), ...extra });
}

export function received(params: URLSearchParams, ok: boolean, error: string | null = null): Reply {
  return { kind: 'received', params, ok, error };
}

export function send(response: ServerResponse, reply: Reply): void {
  if (reply.kind === 'json') sendJson(response, reply.status, reply.body, reply.headers);
  else {
    for (const [name, value] of Object.entries(reply.headers ?? {})) response.setHeader(name, value);
    sendReceived(response, reply.params, reply.ok, reply.error);
  }
}
