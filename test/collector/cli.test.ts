// The `idstitch` command, run as a real process (node --import tsx src/cli/index.ts): it waits on the
// process's own output and exit, never on sleeps.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { basic, event, importEvents, send } from './helpers.js';

const CLI = ['--import', 'tsx', 'src/cli/index.ts'];

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function launch(args: readonly string[]): { child: ChildProcessWithoutNullStreams; output: () => Finished; finished: Promise<Finished> } {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: process.cwd(), env: { ...process.env, NO_COLOR: '1' } });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const output = () => ({ code: child.exitCode, stdout, stderr });
  const finished = new Promise<Finished>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, output, finished };
}

function run(...args: string[]): Promise<Finished> {
  return launch(args).finished;
}

/** Starts `idstitch collector …` and resolves with its URL once it says it is listening. */
async function startCli(...args: string[]): Promise<{ url: string; child: ChildProcessWithoutNullStreams; finished: Promise<Finished> }> {
  const launched = launch(['collector', ...args]);
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /listening on (http:\/\/\S+)/.exec(launched.output().stdout);
      if (match) {
        launched.child.stdout.off('data', onData);
        resolve(match[1]!);
      }
    };
    launched.child.stdout.on('data', onData);
    void launched.finished.then((result) => reject(new Error(`idstitch collector exited first: ${JSON.stringify(result)}`)));
  });
  return { url, child: launched.child, finished: launched.finished };
}

describe('idstitch (the command)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'idstitch-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--help prints the commands and their options, and exits 0', async () => {
    const result = await run('--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('idstitch collector [--port 7600] [--host 127.0.0.1] [--db ./idstitch.sqlite] [--token T]');
    expect(result.stdout).toContain('idstitch demo');
    expect(result.stdout).toContain('idstitch doctor [--db ./idstitch.sqlite | --ndjson FILE | --url http://127.0.0.1:7600] [--json]');
    // A command's --help is that command's usage alone.
    const collector = await run('collector', '--help');
    expect(collector.stdout).toContain('--token');
    expect(collector.stdout).not.toContain('idstitch doctor');
    const doctor = await run('doctor', '--help');
    expect(doctor.code).toBe(0);
    expect(doctor.stdout).toContain('Exits 0 when no check fails (warnings allowed), 1 when one does, 2 when it cannot run.');
    expect(doctor.stdout).not.toContain('idstitch collector');
  });

  it('answers a malformed command line with exit code 2 and a message naming the problem', async () => {
    const cases: Array<[string[], string]> = [
      [['collector', '--bogus'], "unknown option '--bogus' for 'idstitch collector'"],
      [['demo', '--token', 'x'], "unknown option '--token' for 'idstitch demo'"],
      [['collector', '--port', 'http'], "--port must be an integer from 0 to 65535, got 'http'"],
      [['collector', '--port'], "Option '--port <value>' argument missing"],
      [['collector', 'extra'], "unexpected argument 'extra'"],
      [['frobnicate'], "unknown command 'frobnicate' (commands: collector, demo, doctor)"],
      [['doctor', '--db', 'a.sqlite', '--url', 'http://127.0.0.1:1'], 'give one source: --db and --url were both given'],
      [['doctor', '--token', 't'], '--token is for --url'],
      [['doctor', '--url', '127.0.0.1:7600'], "--url must be the collector's http:// address, got '127.0.0.1:7600'"],
      [['doctor', '--examples', 'many'], "--examples must be an integer from 0 to 100, got 'many'"],
      [['doctor', '--port', '7600'], "unknown option '--port' for 'idstitch doctor'"],
      [['doctor', '--ndjson', ''], '--ndjson must not be empty'],
      [['--bogus'], "unknown option '--bogus'"],
      [[], 'Usage:'],
    ];
    // In parallel: each is a process start, and none of them binds a port.
    const results = await Promise.all(cases.map(([args]) => run(...args)));
    results.forEach((result, index) => {
      const [args, message] = cases[index]!;
      expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(result.stderr).toContain(message);
    });
  });

  it('collector prints its URL, serves until SIGTERM, closes cleanly, and keeps its data in the --db file', async () => {
    const db = join(dir, 'collector.sqlite');
    const first = await startCli('--port', '0', '--db', db, '--token', 'cli-token');
    const auth = { authorization: basic('cli-token') };
    expect(
      (await importEvents(first.url, [event('Viewed Home', { device: 'd1' }), event('Signed Up', { device: 'd1', user: 'u1' })], auth))
        .status,
    ).toBe(200);
    expect((await send(first.url, '/api/users')).status).toBe(401);
    expect((await send(first.url, '/', { headers: { accept: 'text/html', ...auth } })).text).toContain('u1');
    first.child.kill('SIGTERM');
    const stopped = await first.finished;
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toContain(`storage  ${db}`);
    // How to point each framework's middleware at it, with the token it was given.
    expect(stopped.stdout).toContain(`idstitch tracking({ apiHost: '${first.url}', token: 'cli-token' })`);
    expect(stopped.stdout).toMatch(/SIGTERM: stopping…\nstopped\n$/);
    expect(stopped.stderr).toBe('');

    // Same file, new process: the events and the link are still there. SIGINT (Ctrl+C) stops it too.
    const second = await startCli('--port', '0', '--db', db, '--token', 'cli-token');
    const events = (await send(second.url, '/api/events?distinct_id=d1', { headers: auth })).json.events;
    expect(events.map((e: { event: string; distinct_id: string }) => [e.event, e.distinct_id])).toEqual([
      ['Viewed Home', 'u1'],
      ['Signed Up', 'u1'],
    ]);
    second.child.kill('SIGINT');
    expect((await second.finished).code).toBe(0);
  });

  it('collector says so and exits 1 when the port is taken', async () => {
    const running = await startCli('--port', '0', '--db', ':memory:');
    const result = await run('collector', '--port', new URL(running.url).port, '--db', ':memory:');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is in use; pick another port with --port/);
    running.child.kill('SIGTERM');
    expect((await running.finished).code).toBe(0);
  });

  it("demo prints the guide's three flows as tables, with the correction, and exits 0", async () => {
    const result = await run('demo');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    for (const flow of ['New user signup', 'Returning user', 'Multiple users, one device']) expect(result.stdout).toContain(flow);
    expect(result.stdout).toContain(
      '| 3 User Identified | D1         | U1       | U1                                 | Links D1 ⇒ U1, D1 and U1 are inside one ID cluster |',
    );
    expect(result.stdout).toContain('ID clusters now: {D1, U1}  {D2, U2}');
    expect(result.stdout).toContain(`Note: the guide's note on event 5 reads "Links D2 ⇒ U2, D1, D2, and U1 are inside one ID cluster".`);
    expect(result.stdout).not.toContain('✗'); // a correction of the guide, in a run that succeeded
  });
});
