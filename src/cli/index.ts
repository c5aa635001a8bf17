#!/usr/bin/env node
// The `idstitch` command: the local collector, the demo that replays the guide's flows into one, and
// the doctor that checks recorded events against the guide's QA list.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { COLLECTOR_DEFAULTS } from '../collector/options.js';
import { DOCTOR_DEFAULTS, MAX_EXAMPLES } from '../doctor/options.js';
// The collector (and better-sqlite3, an optional peer) loads only for the commands that need it,
// so `idstitch --help` works without it.
import type { Collector, CollectorOptions } from '../collector/index.js';
import { IdstitchError } from '../errors.js';
import { LIBRARY_VERSION } from '../version.js';

const COMMAND_USAGE = {
  collector: `  idstitch collector [--port 7600] [--host 127.0.0.1] [--db ./idstitch.sqlite] [--token T]
      Runs a local server that speaks Mixpanel's ingestion API (/import, /track, /engage) and applies
      Simplified ID Merge, with a page at / and a query API at /api. Stops on Ctrl+C (SIGINT) or SIGTERM.
        --port   TCP port; 0 picks a free one (default 7600)
        --host   address to bind (default 127.0.0.1)
        --db     SQLite file, or :memory: to forget on exit (default ./idstitch.sqlite)
        --token  project token: /import, the page and /api/* then need it as the Basic user name
`,
  demo: `  idstitch demo [--serve] [--port 0] [--host 127.0.0.1]
      Replays the guide's three flows (new user signup, returning user, multiple users on one device)
      over real HTTP into an in-memory collector, and prints each flow as the guide's table, read back
      from the collector.
        --serve  keep the demo's collector running afterwards, to look at its page
`,
  doctor: `  idstitch doctor [--db ./idstitch.sqlite | --ndjson FILE | --url http://127.0.0.1:7600] [--json]
      Checks events against the QA list of Mixpanel's identity guide: pre- and post-login events on
      one user, devices used by two users (and the events the first link cost them), profiles for
      anonymous devices, users never identified, deny-listed or suspicious ids, reused $insert_ids.
      Exits 0 when no check fails (warnings allowed), 1 when one does, 2 when it cannot run.
        --db        a collector's SQLite file, read-only (default ./idstitch.sqlite)
        --ndjson    a Mixpanel export (NDJSON, gzip too) or a JSON array of /import or /engage records
        --url       a running collector, through its /api/doctor
        --token     the collector's token (with --url)
        --json      print the report as JSON
        --examples  examples per check, and events per example, 0 to ${MAX_EXAMPLES} (default ${DOCTOR_DEFAULTS.examples})
`,
} as const;

const USAGE = `idstitch ${LIBRARY_VERSION}: server-side Mixpanel Simplified ID Merge

Usage:
${Object.values(COMMAND_USAGE).join('\n')}
  idstitch --help | --version
  idstitch <command> --help
`;

/** A command line that cannot be run as given: exit code 2, as is usual for usage errors. */
class UsageError extends Error {}

const COMMON = { help: { type: 'boolean', short: 'h' }, port: { type: 'string' }, host: { type: 'string' } } as const;
const COMMANDS = {
  collector: { ...COMMON, db: { type: 'string' }, token: { type: 'string' } },
  demo: { ...COMMON, serve: { type: 'boolean' } },
  doctor: {
    help: COMMON.help,
    db: { type: 'string' },
    ndjson: { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
    json: { type: 'boolean' },
    examples: { type: 'string' },
  },
} as const satisfies Record<string, ParseArgsConfig['options']>;
type Command = keyof typeof COMMANDS;

async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    (first === undefined ? process.stderr : process.stdout).write(USAGE);
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    process.stdout.write(`${LIBRARY_VERSION}\n`);
    return 0;
  }
  if (!Object.hasOwn(COMMANDS, first)) {
    throw new UsageError(
      first.startsWith('-') ? `unknown option '${first}'` : `unknown command '${first}' (commands: ${Object.keys(COMMANDS).join(', ')})`,
    );
  }
  const command = first as Command;
  const values = parse(command, rest);
  if (values.help) {
    process.stdout.write(`Usage:\n${COMMAND_USAGE[command]}`);
    return 0;
  }
  if (command === 'doctor') return doctor(values);
  const host = values.host ?? COLLECTOR_DEFAULTS.host;
  if (command === 'collector') {
    const port = readPort(values.port, COLLECTOR_DEFAULTS.port);
    const db = values.db ?? DEFAULT_DB;
    const token = values.token;
    if (token === '') throw new UsageError('--token must not be empty');
    const storage = db === ':memory:' ? db : resolve(db);
    const collector = await start({ port, host, storage, ...(token !== undefined ? { token } : {}) });
    const mixpanelHost = collector.url.replace(/^http:\/\//, '');
    process.stdout.write(
      `idstitch collector listening on ${collector.url}\n` +
        `  page     ${collector.url}/${token !== undefined ? '  (sign in with the token as the user name)' : ''}\n` +
        `  idstitch tracking({ apiHost: '${collector.url}', token: '${token ?? 'dev'}' })   (idstitch/express, idstitch/koa; nextTracking for idstitch/next)\n` +
        // mixpanel-node sends `secret` only over HTTPS; over plain HTTP its legacy `key` is what authenticates /import.
        `  mixpanel Mixpanel.init(token, { host: '${mixpanelHost}', protocol: 'http', key: token })\n` +
        `  storage  ${storage}\n` +
        'Ctrl+C to stop.\n',
    );
    await stopOnSignal(collector);
    return 0;
  }
  const serve = values.serve === true;
  const collector = await start({ port: readPort(values.port, 0), host, storage: ':memory:' });
  try {
    const { formatDemo, runDemo } = await import('./demo.js');
    process.stdout.write(`${formatDemo(await runDemo(collector))}\n`);
  } catch (error) {
    await collector.close();
    throw error;
  }
  if (!serve) {
    await collector.close();
    return 0;
  }
  process.stdout.write(
    `The demo's collector is still running: open ${collector.url}/ to see these users, their clusters and feeds. Ctrl+C to stop.\n`,
  );
  await stopOnSignal(collector);
  return 0;
}

/** Parses a command's options; unknown options and stray arguments are usage errors, named. */
interface Values {
  help?: boolean;
  port?: string;
  host?: string;
  db?: string;
  token?: string;
  serve?: boolean;
  ndjson?: string;
  url?: string;
  json?: boolean;
  examples?: string;
}

function parse(command: Command, args: readonly string[]): Values {
  const options = COMMANDS[command];
  // A lenient pass first, to name an unknown option plainly rather than with parseArgs' advice about '--'.
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'option' && !Object.hasOwn(options, token.name)) {
      const known = Object.keys(options)
        .map((name) => `--${name}`)
        .join(', ');
      throw new UsageError(`unknown option '${token.rawName}' for 'idstitch ${command}' (it takes ${known})`);
    }
    if (token.kind === 'positional') throw new UsageError(`unexpected argument '${token.value}' for 'idstitch ${command}'`);
  }
  try {
    // Every option is a string or a boolean, as declared in COMMANDS.
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values as Values;
  } catch (error) {
    if (typeof (error as { code?: unknown }).code === 'string' && (error as { code: string }).code.startsWith('ERR_PARSE_ARGS_'))
      throw new UsageError((error as Error).message);
    throw error;
  }
}

function readPort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new UsageError(`--port must be an integer from 0 to 65535, got '${value}'`);
  return port;
}

/**
 * `idstitch doctor`: one source (a collector's file by default), the report as text or JSON. Exit code 1
 * only for a failing check, so CI can run it; a source it cannot read is 2, like a usage error.
 */
async function doctor(values: Values): Promise<number> {
  const given = (['db', 'ndjson', 'url'] as const).filter((key) => values[key] !== undefined);
  if (given.length > 1) throw new UsageError(`give one source: ${given.map((key) => `--${key}`).join(' and ')} were both given`);
  if (values.token !== undefined && values.url === undefined)
    throw new UsageError('--token is for --url (a collector started with --token)');
  for (const key of given) if (values[key] === '') throw new UsageError(`--${key} must not be empty`);
  if (values.url !== undefined && !/^https?:\/\/[^/]/.test(values.url))
    throw new UsageError(`--url must be the collector's http:// address, got '${values.url}'`);
  const examples = values.examples === undefined ? DOCTOR_DEFAULTS.examples : Number(values.examples);
  if (values.examples !== undefined && (!/^\d+$/.test(values.examples) || examples > MAX_EXAMPLES)) {
    throw new UsageError(`--examples must be an integer from 0 to ${MAX_EXAMPLES}, got '${values.examples}'`);
  }

  if (given.length === 0 && !existsSync(DEFAULT_DB)) throw new UsageError(await noDefaultDatabase());
  const [{ runDoctor }, { DoctorError }, { formatDoctorReport }] = await Promise.all([
    import('../collector/doctor.js'),
    import('../doctor/errors.js'),
    import('../doctor/format.js'),
  ]);
  const source =
    values.url !== undefined
      ? { url: values.url, token: values.token }
      : values.ndjson !== undefined
        ? { ndjson: values.ndjson }
        : { db: values.db ?? DEFAULT_DB };
  let report;
  try {
    report = await runDoctor(source, { examples });
  } catch (error) {
    // Anything that stops the doctor is 2, never 1: CI must not read "could not check" as "a check failed".
    const reason = error instanceof DoctorError ? error : (missingSqlite(error) ?? error);
    process.stderr.write(`idstitch doctor: ${reason instanceof Error ? reason.message : String(reason)}\n`);
    return 2;
  }
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report));
  return report.status === 'fail' ? 1 : 0;
}

/** Where `idstitch collector` keeps its data by default, and where `idstitch doctor` looks first. */
const DEFAULT_DB = './idstitch.sqlite';

/**
 * `idstitch doctor` with no source, where no collector file is: a collector kept in memory (`npm
 * start`, `--db :memory:`) may be running, and `--url` is the way to it.
 */
async function noDefaultDatabase(): Promise<string> {
  const url = `http://${COLLECTOR_DEFAULTS.host}:${COLLECTOR_DEFAULTS.port}`;
  let running = false;
  try {
    const answer = (await (await fetch(url, { signal: AbortSignal.timeout(1000) })).json()) as { name?: unknown };
    running = answer.name === 'idstitch collector';
  } catch {
    // nothing answers there (or not a collector)
  }
  return running
    ? `there is no ${DEFAULT_DB} here, but a collector answers at ${url}: run 'idstitch doctor --url ${url}'`
    : `there is no ${DEFAULT_DB} here: give a collector's file with --db, a running collector with --url, or an export with --ndjson`;
}

/** better-sqlite3 is an optional peer: its absence gets a message saying how to install it. */
function missingSqlite(error: unknown): Error | undefined {
  const code = (error as { code?: unknown }).code;
  if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((error as Error).message).includes('better-sqlite3')) {
    return new Error(
      'the collector stores events with better-sqlite3, an optional peer dependency: npm install better-sqlite3@12 (13 needs Node 22)',
      { cause: error },
    );
  }
  return undefined;
}

async function start(options: CollectorOptions): Promise<Collector> {
  try {
    const { startCollector } = await import('../collector/server.js');
    return await startCollector(options);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const missing = missingSqlite(error);
    if (missing) throw missing;
    if (code === 'EADDRINUSE')
      throw new Error(`${options?.host}:${options?.port} is in use; pick another port with --port (0 picks a free one)`, { cause: error });
    if (code === 'EADDRNOTAVAIL') throw new Error(`cannot bind to ${options?.host}: no such local address`, { cause: error });
    if (error instanceof IdstitchError) throw new UsageError(error.message);
    throw error;
  }
}

/** Resolves once SIGINT or SIGTERM arrives and the collector has closed; a second signal exits at once. */
async function stopOnSignal(collector: Collector): Promise<void> {
  let stop!: (signal: NodeJS.Signals) => void;
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    stop = resolve;
    process.once('SIGINT', stop).once('SIGTERM', stop);
  });
  process.off('SIGINT', stop).off('SIGTERM', stop);
  const force = () => process.exit(1);
  process.once('SIGINT', force).once('SIGTERM', force);
  process.stdout.write(`${signal}: stopping…\n`);
  await collector.close();
  process.off('SIGINT', force).off('SIGTERM', force);
  process.stdout.write('stopped\n');
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`idstitch: ${error.message}\nRun 'idstitch --help' for usage.\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`idstitch: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
