// Event JSON written by hand for the usual shapes (ids, names, flat properties), byte for byte what
// JSON.stringify writes (test/event.test.ts pins the equivalence). JSON.stringify sets up a
// serialiser on every call; the common case skips it (what that saves: docs/performance.md).

/**
 * Event and property names as JSON, remembered: an app uses a few dozen over and over. Bounded,
 * so names built from data (which they should not be) cannot grow it without end.
 */
const NAME_JSON = new Map<string, string>();
const NAME_JSON_LIMIT = 512;

export function nameJson(name: string): string {
  let json = NAME_JSON.get(name);
  if (json === undefined) {
    json = jsonString(name);
    if (NAME_JSON.size < NAME_JSON_LIMIT) NAME_JSON.set(name, json);
  }
  return json;
}

/**
 * A string as JSON, as JSON.stringify writes it. Most strings here (ids, names, short values) need
 * no escaping, and a scan of their characters costs a fraction of a JSON.stringify call, which
 * sets up a serialiser each time: in a server under load it was the largest part of building an event.
 */
export function jsonString(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // Control characters, `"` and `\` are escaped; lone surrogates too (well-formed JSON.stringify).
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(value);
  }
  return '"' + value + '"';
}

/**
 * `JSON.stringify(properties)` for the usual shape, an object of strings, numbers, booleans and
 * nulls, written without the serialiser; undefined for anything else (nested values), which then
 * goes to JSON.stringify whole. Values were checked already (finite numbers, no functions).
 */
export function flatJson(properties: Readonly<Record<string, unknown>>): string | undefined {
  let json = '';
  for (const key of Object.keys(properties)) {
    const value = properties[key];
    let written: string;
    switch (typeof value) {
      case 'string':
        written = jsonString(value);
        break;
      case 'number':
      case 'boolean':
        written = String(value);
        break;
      case 'undefined':
        continue; // left out, as JSON.stringify does
      default:
        if (value !== null) return undefined;
        written = 'null';
    }
    json += (json === '' ? '{' : ',') + nameJson(key) + ':' + written;
  }
  return json === '' ? '{}' : json + '}';
}
