import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { LIBRARY_VERSION } from '../src/version.js';

// These tests read the built package (dist/), as a user would get it: `npm test` builds first.
const root = new URL('..', import.meta.url).pathname;
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

describe('the published package', () => {
  it('reports the version package.json declares', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(LIBRARY_VERSION).toBe(pkg.version);
  });

  it('builds a CLI that runs as the bin it is declared as (executable, so npx idstitch works in a fresh clone)', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { bin: { idstitch: string } };
    const bin = new URL(`../${pkg.bin.idstitch}`, import.meta.url).pathname;
    expect(statSync(bin).mode & 0o111, `${pkg.bin.idstitch} is executable`).not.toBe(0);
    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()).toContain(LIBRARY_VERSION);
  });

  it('type-checks ES module and CommonJS consumers of idstitch, idstitch/express, idstitch/koa and idstitch/collector, req.track and ctx.track included', () => {
    const run = () => execFileSync(process.execPath, [tsc, '-p', 'test/types/tsconfig.json'], { cwd: root, encoding: 'utf8' });
    expect(run).not.toThrow();
  });

  it('type-checks ES module and CommonJS consumers of idstitch/fastify, request.track included', () => {
    // A config of its own: Fastify's declarations import pino's, which need esModuleInterop.
    const run = () => execFileSync(process.execPath, [tsc, '-p', 'test/types/tsconfig.fastify.json'], { cwd: root, encoding: 'utf8' });
    expect(run).not.toThrow();
  });

  it('type-checks an ES module consumer of idstitch/nest, decorators included (Nest 12 is ESM only)', () => {
    const run = () => execFileSync(process.execPath, [tsc, '-p', 'test/types/tsconfig.nest.json'], { cwd: root, encoding: 'utf8' });
    expect(run).not.toThrow();
  });

  it('type-checks ES module and CommonJS consumers of idstitch/next and idstitch/next/proxy', () => {
    // A config of its own: Next's declarations name packages it does not install, so lib checks are off there.
    const run = () => execFileSync(process.execPath, [tsc, '-p', 'test/types/tsconfig.next.json'], { cwd: root, encoding: 'utf8' });
    expect(run).not.toThrow();
  });

  it.each([
    'idstitch',
    'idstitch/express',
    'idstitch/koa',
    'idstitch/fastify',
    'idstitch/next',
    'idstitch/next/proxy',
    'idstitch/collector',
  ])('loads %s with require() and import', (specifier) => {
    const script = `
      const viaRequire = require(${JSON.stringify(specifier)});
      import(${JSON.stringify(specifier)}).then((viaImport) => {
        console.log(JSON.stringify([Object.keys(viaRequire).sort(), Object.keys(viaImport).filter((k) => k !== 'default').sort()]));
      });`;
    const [cjs, esm] = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' })) as [string[], string[]];
    expect(cjs.length).toBeGreaterThan(0);
    expect(esm).toEqual(cjs);
  });

  it('loads idstitch/nest with import, its only form, as Nest 12 itself', () => {
    const script = `import('idstitch/nest').then((nest) => console.log(JSON.stringify(Object.keys(nest).sort())));`;
    const names = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' })) as string[];
    expect(names).toEqual(expect.arrayContaining(['IdstitchModule', 'Tracker', 'Tracking', 'createTracker']));
  });

  it('shares one tracker brand between the ESM and CommonJS builds', () => {
    const script = `
      const cjs = require('idstitch');
      import('idstitch').then((esm) => {
        const tracker = esm.createTracker({ logger: false });
        console.log(String(cjs.isTracker(tracker)));
      });`;
    expect(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }).trim()).toBe('true');
  });
});
