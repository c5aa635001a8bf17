// Runs `idstitch …` as a real process (node --import tsx src/cli/index.ts) and resolves with its exit code and output.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPOSITORY = resolve(fileURLToPath(new URL('../..', import.meta.url)));
// Absolute, so the command can run in another working directory (where `./idstitch.sqlite` is looked for).
const TSX = pathToFileURL(join(REPOSITORY, 'node_modules/tsx/dist/loader.mjs')).href;
const CLI = join(REPOSITORY, 'src/cli/index.ts');

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(...args: string[]): Promise<Finished> {
  return runCliIn(REPOSITORY, ...args);
}

export function runCliIn(cwd: string, ...args: string[]): Promise<Finished> {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
