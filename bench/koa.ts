// Koa 3 hello-world under autocannon: the Express benchmark's variants (bench/express.ts) on Koa, with
// idstitch through idstitch/koa and ctx.track. How: bench/request-cost.ts.
//
//   tsx bench/koa.ts [--smoke] [--json <path>]
import { fileURLToPath } from 'node:url';
import { parseFlags, writeJson } from './report.js';
import { runRequestCost } from './request-cost.js';

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const flags = parseFlags();
  const result = await runRequestCost('koa', { smoke: flags.smoke });
  if (flags.json) writeJson(flags.json, result);
  process.exitCode = result.checks.length ? 1 : 0;
}
