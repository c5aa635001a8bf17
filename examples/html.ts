// HTML for the examples: a tagged template that escapes every interpolated value unless it is
// already safe HTML, so nothing a visitor typed (or an event carried) can become markup.

const SAFE = Symbol('safe-html');

/** A fragment of HTML that is safe to insert as-is. Only `html` and `raw` make one. */
export interface SafeHtml {
  readonly [SAFE]: true;
  readonly value: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for use in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

/** Marks a string as HTML. Only for markup written in this code, never for input. */
export function raw(value: string): SafeHtml {
  return { [SAFE]: true, value };
}

function isSafe(value: unknown): value is SafeHtml {
  return typeof value === 'object' && value !== null && (value as Partial<SafeHtml>)[SAFE] === true;
}

function render(value: unknown): string {
  if (value === undefined || value === null || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (isSafe(value)) return value.value;
  return escapeHtml(String(value));
}

/**
 * `html\`<p>${name}</p>\`` escapes `name`; nested `html` fragments and arrays of them are kept;
 * `undefined`, `null` and `false` render as nothing (handy for `${cond && html\`...\`}`).
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return raw(out);
}
