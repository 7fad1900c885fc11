import { type ParseArgsOptionDescriptor, parseArgs } from 'node:util';

/**
 * The command-line habits every `npm run` command shares: `--help` (usage, options, an example; exit 0), one set of
 * exit codes, and arguments refused with one clear line naming the command and pointing at its `--help`. A thin
 * layer over node:util parseArgs, which does the parsing.
 */

/** The exit codes of every local command (docs/development.md, "Exit codes"). */
export const EXIT = {
  /** The job was done. */
  ok: 0,
  /** The job failed (the message says why). */
  failed: 1,
  /** The command line was wrong; nothing was done. */
  usage: 2,
  /** The job was done in part (the output says which part was not). */
  partial: 3,
  /** Interrupted (Ctrl+C), as shells report SIGINT. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A parseArgs option with what `--help` says about it. */
export type OptionSpec = ParseArgsOptionDescriptor & {
  /** One line for `--help`. */
  description: string;
  /** The value's name in `--help` (`--thread TS`); string options only. @default 'VALUE' */
  valueName?: string;
  /** Returns why the value is refused, or undefined when it is good. Only called for options given. */
  validate?: (value: string) => string | undefined;
};

export interface CommandSpec<O extends Record<string, OptionSpec>> {
  /** The npm script's name: `ask` for `npm run ask`. */
  name: string;
  /** What follows `npm run NAME --` in the usage line, options included: `[--json] "question"`. */
  synopsis: string;
  /** One or two sentences: what the command does. */
  summary: string;
  options: O;
  /** Positional arguments: none allowed unless given; `min` of them required. */
  positionals?: { name: string; min?: number };
  /** At least one copy-paste example, `npm run …` in full. */
  examples: readonly string[];
  /** The exit codes this command uses, each with what it means here. */
  exitCodes: Partial<Record<ExitCode, string>>;
  /** Further text for `--help`, after the options. */
  notes?: string;
}

/** Declares a command, keeping its options' literal types (so the parsed values are typed). */
export function defineCommand<const O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
): CommandSpec<O> {
  return spec;
}

/** A command line the command cannot run: printed as one line, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type Values<O extends Record<string, OptionSpec>> = ReturnType<
  typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>
>['values'];

export interface ParsedCommand<O extends Record<string, OptionSpec>> {
  values: Values<O>;
  positionals: string[];
}

const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'print this help and exit' };

/** The `--help` text. */
export function usage<O extends Record<string, OptionSpec>>(spec: CommandSpec<O>): string {
  const rows = Object.entries({ ...spec.options, help: HELP }).map(([name, option]) => {
    const flag = `${option.short !== undefined ? `-${option.short}, ` : '    '}--${name}`;
    return [option.type === 'string' ? `${flag} ${option.valueName ?? 'VALUE'}` : flag, option.description];
  });
  const width = Math.max(...rows.map(([flag]) => flag?.length ?? 0));
  const codes = Object.entries(spec.exitCodes).map(([code, meaning]) => `  ${code.padEnd(4)} ${meaning}`);
  return [
    `usage: npm run ${spec.name}${spec.synopsis === '' ? '' : ` -- ${spec.synopsis}`}`,
    '',
    spec.summary,
    '',
    'options:',
    ...rows.map(
      ([flag, description]) =>
        `  ${(flag ?? '').padEnd(width)}  ${(description ?? '').replace(/\n/g, `\n${' '.repeat(width + 4)}`)}`,
    ),
    ...(spec.notes !== undefined ? ['', spec.notes] : []),
    '',
    spec.examples.length === 1 ? 'example:' : 'examples:',
    ...spec.examples.map((example) => `  ${example}`),
    '',
    'exit codes:',
    ...codes,
  ].join('\n');
}

/**
 * Parses `argv` (the arguments after `npm run NAME --`) by `spec`; throws UsageError with one readable line for
 * an unknown option, a missing value, a value `validate` refuses, a missing or unexpected positional argument.
 * `help` is true when `--help` was given (nothing else is checked then).
 */
export function parseCommand<O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  argv: string[],
): ParsedCommand<O> & { help: boolean } {
  const options = Object.fromEntries(
    Object.entries({ ...spec.options, help: HELP }).map(([name, option]) => [
      name,
      {
        type: option.type,
        ...(option.short !== undefined ? { short: option.short } : {}),
        ...(option.multiple !== undefined ? { multiple: option.multiple } : {}),
        ...(option.default !== undefined ? { default: option.default } : {}),
      },
    ]),
  );
  const dashes = argv.indexOf('--');
  const flags = dashes === -1 ? argv : argv.slice(0, dashes);
  if (flags.includes('--help') || flags.includes('-h')) {
    return { values: {} as Values<O>, positionals: [], help: true };
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(readableParseError(error as Error & { code?: string }, spec));
  }
  for (const [name, option] of Object.entries(spec.options)) {
    const value = parsed.values[name];
    if (option.validate === undefined || value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) {
      const refused = option.validate(String(one));
      if (refused !== undefined) throw new UsageError(refused);
    }
  }
  const min = spec.positionals?.min ?? 0;
  if (spec.positionals === undefined && parsed.positionals.length > 0) {
    throw new UsageError(`takes no arguments, and was given ${quoted(parsed.positionals)}`);
  }
  if (parsed.positionals.length < min) {
    throw new UsageError(`needs ${spec.positionals?.name ?? 'an argument'}`);
  }
  return { values: parsed.values as Values<O>, positionals: parsed.positionals, help: false };
}

/**
 * Runs a command: `--help` prints the usage and exits 0 (so does a bare command that needs arguments, on stderr, exit
 * 2); a UsageError prints `npm run NAME: <why>` and a pointer to
 * `--help`, exit 2; any other error prints its message and its causes, exit 1; otherwise the code `main` returns.
 */
export function runCommand<O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  main: (parsed: ParsedCommand<O>) => Promise<number | undefined>,
  argv: string[] = process.argv.slice(2),
): void {
  if (argv.length === 0 && (spec.positionals?.min ?? 0) > 0) {
    // Run bare, a command that needs arguments shows what it takes.
    console.error(usage(spec));
    process.exitCode = EXIT.usage;
    return;
  }
  let parsed: ReturnType<typeof parseCommand<O>>;
  try {
    parsed = parseCommand(spec, argv);
  } catch (error) {
    console.error(usageErrorLine(spec, error as Error));
    process.exitCode = EXIT.usage;
    return;
  }
  if (parsed.help) {
    console.log(usage(spec));
    process.exitCode = EXIT.ok;
    return;
  }
  main(parsed).then(
    (code) => {
      process.exitCode = code ?? EXIT.ok;
    },
    (error: unknown) => {
      if (error instanceof UsageError) {
        console.error(usageErrorLine(spec, error));
        process.exitCode = EXIT.usage;
        return;
      }
      console.error(describeError(error));
      process.exitCode = EXIT.failed;
    },
  );
}

function usageErrorLine(spec: { name: string }, error: Error): string {
  return `npm run ${spec.name}: ${error.message}; see npm run ${spec.name} -- --help`;
}

/**
 * An error's message followed by its causes (`cause: …`), the stack only for an error with no message, so that a
 * local failure says what failed ("connect ECONNREFUSED 127.0.0.1:3000"), not just that something did.
 */
export function describeError(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    if (current instanceof Error) {
      const text = current.message || current.stack || current.name;
      lines.push(depth === 0 ? text : `  cause: ${text}`);
      current = current.cause;
    } else {
      lines.push(depth === 0 ? String(current) : `  cause: ${String(current)}`);
      current = undefined;
    }
  }
  return lines.join('\n');
}

function readableParseError(error: Error & { code?: string }, spec: CommandSpec<Record<string, OptionSpec>>) {
  // parseArgs names the offending token between quotes; its messages suggest `-- "--x"` with a stray quote.
  const token = /'([^']*)'/.exec(error.message)?.[1] ?? '';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const known = Object.keys(spec.options).map((name) => `--${name}`);
      return `unknown option ${token}${known.length > 0 ? ` (options: ${[...known, '--help'].join(', ')})` : ''}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = /--([\w-]+)/.exec(token)?.[1] ?? token;
      const option = spec.options[name];
      return option?.type === 'string'
        ? `--${name} needs a value (--${name} ${option.valueName ?? 'VALUE'})`
        : `--${name} takes no value`;
    }
    default:
      return error.message;
  }
}

function quoted(values: string[]): string {
  return values.map((value) => JSON.stringify(value)).join(' ');
}
