// Fastify 5 hello-world under autocannon: the Express benchmark's variants (bench/express.ts) on Fastify, with
// idstitch through idstitch/fastify and request.track. How: bench/request-cost.ts.
//
//   tsx bench/fastify.ts [--smoke] [--json <path>]
import { fileURLToPath } from 'node:url';
import { parseFlags, writeJson } from './report.js';
import { runRequestCost } from './request-cost.js';

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const flags = parseFlags();
  const result = await runRequestCost('fastify', { smoke: flags.smoke });
  if (flags.json) writeJson(flags.json, result);
  process.exitCode = result.checks.length ? 1 : 0;
}
