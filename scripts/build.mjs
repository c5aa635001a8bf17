// Builds the package twice from the same sources: ESM (dist/esm) and CommonJS (dist/cjs),
// each with its own .d.ts, so both `import` and `require` get real types (no masquerading).
// A package.json with "type" in each output folder tells Node (and TypeScript) how to read it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

rmSync('dist', { recursive: true, force: true });
const builds = [
  { dir: 'dist/esm', type: 'module', args: ['--module', 'NodeNext', '--moduleResolution', 'NodeNext'] },
  { dir: 'dist/cjs', type: 'commonjs', args: ['--module', 'CommonJS', '--moduleResolution', 'Node10'] },
];
for (const { dir, type, args } of builds) {
  mkdirSync(dir, { recursive: true });
  // Written first: NodeNext decides each file's module format from the nearest package.json.
  writeFileSync(`${dir}/package.json`, JSON.stringify({ type }) + '\n');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', dir, ...args], {
    stdio: 'inherit',
  });
}
