/**
 * HTML built so that escaping is the default: every value interpolated into `html`…`` is escaped
 * unless it is itself the output of `html` (or an array of such). Event names, property values and
 * ids reach the page from anyone who can send an event, so nothing is ever concatenated raw.
 */

/** A fragment already safe to emit. Only `html` makes one. */
export class SafeHtml {
  readonly #text: string;
  /** @internal use `html`…`` */
  constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
}

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and quoted attribute values (HTML and SVG alike). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ENTITIES[character]!);
}

/** Tagged template: interpolations are escaped; `SafeHtml` and arrays of it pass through; null, undefined and false render nothing. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += fragment(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

function fragment(value: unknown): string {
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(fragment).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/** Marks text written in this package's source (the page's CSS and script) as HTML. Never pass data to it. */
export function constantHtml(text: string): SafeHtml {
  return new SafeHtml(text);
}

/** A link to the page with a query: the values are percent-encoded here, and `html` escapes the result. */
export function pageHref(params: Record<string, string>): string {
  return '?' + new URLSearchParams(params).toString();
}
