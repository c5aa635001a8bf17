// A response that hands a browser its own identity (a new device id, a profile cookie) must never
// be stored by a shared cache, or the cache would hand that one identity to every later visitor.
// Web APIs only: idstitch/next/proxy uses it on the Edge runtime.

/** Makes a response private to one browser while keeping the app's other cache directives. */
export function privateCacheControl(existing: string | null | undefined): string {
  if (!existing || existing.trim() === '') return 'private';
  if (/(^|,)\s*(private|no-store)\s*(,|$)/i.test(existing)) return existing;
  const kept = existing
    .split(',')
    .map((directive) => directive.trim())
    .filter((directive) => directive !== '' && !/^(public|s-maxage\s*=.*)$/i.test(directive));
  return ['private', ...kept].join(', ');
}
