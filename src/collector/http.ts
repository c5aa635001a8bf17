import { STATUS_CODES, type ServerResponse } from 'node:http';

/** Mixpanel's status words where they differ from Node's (contract §3.2: 413 is "Request Entity Too Large"). */
const STATUS_TEXT: Readonly<Record<number, string>> = { 200: 'OK', 413: 'Request Entity Too Large' };

/** The messages Mixpanel's OpenAPI file gives for these statuses (contract §2.3, §3.2). */
const ERROR_TEXT: Readonly<Record<number, string>> = {
  401: 'Invalid credentials',
  429: 'Project exceeded rate limits. Please retry the request with exponential backoff.',
};

/** `{code, error, status}`, the shape of Mixpanel's strict and error replies. */
export function errorBody(status: number, error?: string): Record<string, unknown> {
  return { code: status, error: error ?? ERROR_TEXT[status] ?? STATUS_CODES[status] ?? 'error', status: statusText(status) };
}

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? STATUS_CODES[status] ?? String(status);
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

export function sendText(response: ServerResponse, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
  response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/** A transparent 1×1 GIF, what `/track?img=1` answers (contract §1.2). */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const CALLBACK = /^[A-Za-z_$][\w$.]{0,99}$/;

/**
 * The `/track`-style answer (contract §3.1): `1`/`0`, or `{status, error}` with `verbose=1`,
 * a pixel with `img=1`, JSONP with `callback=fn`. HTTP 200 either way.
 */
export function sendReceived(response: ServerResponse, params: URLSearchParams, ok: boolean, error: string | null): void {
  if (params.get('img') === '1') {
    response.writeHead(200, { 'content-type': 'image/gif', 'content-length': PIXEL.length, 'cache-control': 'no-cache, no-store' });
    response.end(PIXEL);
    return;
  }
  const verbose = params.get('verbose') === '1';
  const body = verbose ? JSON.stringify({ status: ok ? 1 : 0, error: ok ? null : error }) : ok ? '1' : '0';
  const callback = params.get('callback');
  if (callback !== null && CALLBACK.test(callback)) {
    sendText(response, 200, `${callback}(${body});`, 'text/javascript; charset=utf-8');
    return;
  }
  sendText(response, 200, body, verbose ? 'application/json' : 'text/plain; charset=utf-8');
}
