// Runs code just before a node:http response's headers go out, however the app writes them.
// Node sends headers from `writeHead`, which it also calls itself for implicit headers (`write`,
// `end`, `flushHeaders`, Express's `send`, `redirect` and `sendFile`, Koa's respond). Wrapping the
// response's own `writeHead` therefore sees every path. The header argument of
// `writeHead(status, headers)` is applied to the response *before* the listeners run, the technique
// of the `on-headers` package that express-session relies on: otherwise an app's own header object
// would replace the `Set-Cookie` and `Cache-Control` that idstitch adds.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** The listeners waiting on a response's wrapped `writeHead`, kept on the wrapper itself. */
const LISTENERS = Symbol('idstitch.onHeaders');

type WriteHead = ServerResponse['writeHead'];
type Wrapped = WriteHead & { [LISTENERS]?: Array<() => void> };

/** Runs `listener` once, just before `res` writes its headers (after the app's own header argument is applied). */
export function onHeaders(res: ServerResponse, listener: () => void): void {
  const current = res.writeHead as Wrapped;
  const pending = current[LISTENERS];
  if (pending !== undefined) {
    pending.push(listener);
    return;
  }
  const listeners = [listener];
  const wrapped = Object.assign(
    function writeHeadWithListeners(this: ServerResponse, ...args: unknown[]): ServerResponse {
      // Emptied first: a listener that itself triggers writeHead must not run twice.
      const run = listeners.splice(0);
      wrapped[LISTENERS] = undefined;
      if (this.headersSent || run.length === 0) return (current as (...a: unknown[]) => ServerResponse).apply(this, args);
      const statusCode = args[0] as number;
      const reason = typeof args[1] === 'string' ? args[1] : undefined;
      const given = reason === undefined ? args[1] : args[2];
      // Node would apply these inside writeHead, replacing what listeners add; applied first, they
      // are kept and the listeners add to them.
      if (given !== undefined && given !== null) applyHeaders(this, given);
      this.statusCode = statusCode;
      for (const each of run) each();
      return reason === undefined
        ? current.call(this, statusCode)
        : (current as (code: number, reason: string) => ServerResponse).call(this, statusCode, reason);
    },
    { [LISTENERS]: listeners },
  ) as Wrapped;
  res.writeHead = wrapped;
}

/**
 * `writeHead`'s header argument, applied as `setHeader` calls: an object, or a flat
 * `[name, value, name, value]` list. A name given twice in a list keeps every value (`Set-Cookie`
 * lines, as Node 22 does); each name replaces what the response had under it, as in `writeHead`.
 */
function applyHeaders(res: ServerResponse, headers: unknown): void {
  if (Array.isArray(headers)) {
    if (headers.length % 2 !== 0) return; // Node's own writeHead refuses it with a clear error
    const grouped = new Map<string, { name: string; values: Array<string | number | readonly string[]> }>();
    for (let i = 0; i < headers.length; i += 2) {
      const name = String(headers[i]);
      if (name === '') continue;
      const key = name.toLowerCase();
      const entry = grouped.get(key) ?? { name, values: [] };
      entry.values.push(headers[i + 1] as string);
      grouped.set(key, entry);
    }
    for (const { name, values } of grouped.values()) res.setHeader(name, values.length === 1 ? values[0]! : values.flat().map(String));
    return;
  }
  if (typeof headers !== 'object') return;
  for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
    if (name !== '') res.setHeader(name, value as string); // an undefined value throws, as in writeHead
  }
}
