// The same cookie signatures as src/signing.ts, with Web Crypto instead of node:crypto, for the
// Next.js proxy on the Edge runtime. Asynchronous, as Web Crypto is; the bytes are identical, so a
// value the proxy signs verifies in the tracker and the other way round.
import { checkSecrets } from './cookie-config.js';

export interface WebSigner {
  sign(value: string): Promise<string>;
  unsign(signed: string): Promise<string | undefined>;
}

const SIGNATURE_LENGTH = 43;

type Key = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

export function createWebSigner(secret: string | readonly string[]): WebSigner {
  const secrets = checkSecrets(secret);
  const encoder = new TextEncoder();
  let keys: Promise<Key[]> | undefined;
  // Imported on first use: a proxy module is evaluated at build time too, where no request comes.
  const imported = (): Promise<Key[]> =>
    (keys ??= Promise.all(
      secrets.map((candidate) =>
        crypto.subtle.importKey('raw', encoder.encode(candidate), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']),
      ),
    ));
  return {
    async sign(value) {
      const [key] = await imported();
      const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key!, encoder.encode(value)));
      return `${value}.${toBase64Url(mac)}`;
    },
    async unsign(signed) {
      const dot = signed.lastIndexOf('.');
      if (dot <= 0 || signed.length - dot - 1 !== SIGNATURE_LENGTH) return undefined;
      const signature = signed.slice(dot + 1);
      const mac = fromBase64Url(signature);
      if (mac === undefined || mac.length !== 32 || toBase64Url(mac) !== signature) return undefined;
      const value = encoder.encode(signed.slice(0, dot));
      let valid = false;
      // subtle.verify compares in constant time; every key is tried so timing tells nothing.
      for (const key of await imported()) if (await crypto.subtle.verify('HMAC', key, mac, value)) valid = true;
      return valid ? signed.slice(0, dot) : undefined;
    },
  };
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  } catch {
    return undefined; // not decodable: no signature of ours
  }
}
