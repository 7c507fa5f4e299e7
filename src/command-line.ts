// Argument handling shared by every command of the bin (SPEC §2 rev 2): node:util parseArgs in strict
// mode, plus `-h`/`--help` on every command, which prints that command's usage on stdout. Anything the
// parser refuses (unknown flag, missing value, extra argument) becomes a UsageError: exit 2 and one
// line on stderr. Other failures exit 1.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A command line that cannot be run as written; its message is one line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Options = NonNullable<ParseArgsConfig['options']>;

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

export interface CommandSpec<O extends Options> {
  /** e.g. `keys rotate`: names the command in usage errors */
  readonly name: string;
  /** the whole help text, printed for --help */
  readonly usage: string;
  readonly options: O;
  /** how many positional arguments it takes, and what they are called in an error */
  readonly positionals?: { readonly min: number; readonly max: number; readonly names: string };
}

const firstLine = (text: string): string => text.split('\n')[0] ?? text;

/** The text after "see", pointing at the command's own help. */
export const seeHelp = (name: string): string => `see custody-proxy ${name} --help`;

function parseStrict<const O extends Options>(args: readonly string[], spec: CommandSpec<O>) {
  try {
    return parseArgs({ args: [...args], options: { ...spec.options, ...HELP }, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs appends advice about `--` to an unknown option, which only lengthens the line.
    const message = firstLine((err as Error).message).replace(/\. To specify a positional argument.*$/, '');
    throw new UsageError(`${message} (${seeHelp(spec.name)})`);
  }
}

/**
 * Parses one command's arguments; undefined when --help was asked for (its usage is then on stdout).
 * Throws UsageError for anything the command does not take.
 */
export function parseCommand<const O extends Options>(args: readonly string[], spec: CommandSpec<O>) {
  const parsed = parseStrict(args, spec);
  // The values' type is only resolved where O is concrete (at the caller); help is there by construction.
  if ((parsed.values as { help?: boolean }).help === true) {
    process.stdout.write(`${spec.usage}\n`);
    return undefined;
  }
  const count = parsed.positionals.length;
  const { min, max, names } = spec.positionals ?? { min: 0, max: 0, names: '' };
  if (count < min) throw new UsageError(`missing ${names} (${seeHelp(spec.name)})`);
  if (count > max) {
    const takes = max === 0 ? 'takes no arguments' : `takes only ${names}`;
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[max])}: ${spec.name} ${takes} (${seeHelp(spec.name)})`);
  }
  return parsed;
}

/** A required flag that is absent: a usage error naming it. */
export function required<T>(value: T | undefined, flag: string, spec: { readonly name: string }): T {
  if (value === undefined || value === '') throw new UsageError(`missing ${flag} (${seeHelp(spec.name)})`);
  return value;
}

/** A subcommand dispatcher's usage error for an unknown or missing subcommand. */
export function unknownSubcommand(group: string, sub: string | undefined, known: readonly string[]): UsageError {
  const what = sub === undefined ? 'missing command' : `unknown command ${JSON.stringify(sub)}`;
  return new UsageError(`${what} (${known.join(', ')}; ${seeHelp(group)})`);
}

/** Writes an error as the one stderr line every command uses and returns its exit code. */
export function reportError(prefix: string, err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${prefix}: ${firstLine(message)}\n`);
  return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
}
