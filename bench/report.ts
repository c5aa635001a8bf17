// Command-line flags, readable tables and JSON results shared by the bench scripts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface BenchFlags {
  /** A short run for CI: one repetition, short windows; figures are indicative only. */
  smoke: boolean;
  /** Where to write this script's results as JSON (run.ts passes a temporary file). */
  json: string | undefined;
}

/** Parses `--smoke` and `--json <path>`; anything else is refused, so a typo cannot silently run the full bench. */
export function parseFlags(argv: readonly string[] = process.argv.slice(2)): BenchFlags {
  const flags: BenchFlags = { smoke: false, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--smoke') flags.smoke = true;
    else if (arg === '--json' && argv[i + 1] !== undefined) flags.json = argv[++i];
    else throw new Error(`unknown argument ${JSON.stringify(arg)} (known: --smoke, --json <path>)`);
  }
  return flags;
}

/** Writes `data` as pretty JSON, creating the folder. */
export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
}

/** A fixed-width text table; cells that start with a number are right-aligned. */
export function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = rows.map((row) => row.map((cell) => String(cell)));
  const widths = headers.map((header, i) => Math.max(header.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const numeric = (cell: string): boolean => /^[-+]?\d/.test(cell) || cell === 'n/a';
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => (numeric(cell) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** 12345.6 → "12,346"; digits after the point on request. */
export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** 0.9734 → "0.973×". */
export function times(value: number, digits = 3): string {
  return Number.isFinite(value) ? `${value.toFixed(digits)}×` : 'n/a';
}

/** 0.0266 → "2.7 %". */
export function percent(value: number, digits = 1): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(digits)} %` : 'n/a';
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
