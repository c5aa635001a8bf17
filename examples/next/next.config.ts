import type { NextConfig } from 'next';

const config: NextConfig = {
  poweredByHeader: false,
  // idstitch sends events with undici, which is written for Node.js and should be loaded by it as
  // is, not bundled: list it (or 'idstitch') here in your app too.
  serverExternalPackages: ['undici'],
};

export default config;
