// Express 5 hello-world under autocannon: what idstitch costs a real server, against a bare app, the
// hand-written floor and the same tracking done with mixpanel, posthog-node and analytics-node, all
// measured in the same rounds. How: bench/request-cost.ts.
//
//   tsx bench/express.ts [--smoke] [--json <path>]
import { fileURLToPath } from 'node:url';
import { parseFlags, writeJson } from './report.js';
import { runRequestCost } from './request-cost.js';

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const flags = parseFlags();
  const result = await runRequestCost('express', { smoke: flags.smoke });
  if (flags.json) writeJson(flags.json, result);
  process.exitCode = result.checks.length ? 1 : 0;
}
