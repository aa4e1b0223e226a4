import yargs, { type Argv } from 'yargs';
import { AgError, errorFields, ExitCode, toAgError } from './errors.js';
import type { Io } from './io.js';
import { createLogger, type LogFormat, type LogLevel, type Logger } from './log.js';
import type { AgDocument } from './document/schema.js';
import { emitDocument } from './output/emit.js';
import { reportPlannedActions, type PlannedAction } from './output/dry-run.js';
import { OUTPUT_MODES } from './output/mode.js';
import { summarise, type DocumentSummary } from './output/summary.js';
import { createProgress, type Progress } from './progress.js';
import { runtimeDescription } from './runtime.js';
import { resolve } from 'node:path';
import { COMPLETION_SHELLS, completionScript, writeShellFiles, type CompletionShell } from './cli/shell-files.js';
import { recordExamples, specOf, type ToolSpec } from './cli/spec.js';
import { notANumberError, unknownCommandError, usageErrorFromParser } from './cli/usage-errors.js';
import { rewriteRetiredFlags } from './cli/vocabulary.js';

/** Options every ag tool accepts. */
export interface CommonArgs {
  in?: string;
  pretty: boolean;
  quiet: boolean;
  verbose: boolean;
  debug: boolean;
  'log-format': LogFormat;
  'dry-run'?: boolean;
  _: (string | number)[];
  [key: string]: unknown;
}

/** What a command's handler gets: the streams, a logger, progress, parsed flags. */
export interface CommandContext<A = CommonArgs> {
  io: Io;
  log: Logger;
  progress: Progress;
  args: A & CommonArgs;
  /** Writes the stage's result: the document, its summary on a terminal, or nothing (`--output`). */
  emit(document: AgDocument): void;
  /** A dry run's planned actions, on stderr, as every tool says them (output/dry-run.ts). */
  reportPlanned<A extends PlannedAction>(actions: readonly A[], extra?: Record<string, unknown>): void;
}

export type Handler = (context: CommandContext<Record<string, unknown>>) => Promise<number | void>;

export interface ToolDefinition {
  /** e.g. `ag-fetch` */
  name: string;
  version: string;
  /** Adds commands, options and examples to the parser. Commands have no yargs handlers: `handlers` runs them. */
  configure(parser: Argv): Argv;
  /** One async function per command name (`plan`, `download`…); `$default` runs when no command is given. */
  handlers: Record<string, Handler>;
  /** What a terminal gets instead of the document, by command (default: a line per section). */
  summaries?: Record<string, DocumentSummary>;
}

function addCommonOptions(parser: Argv): Argv {
  return parser
    .option('in', { type: 'string', describe: 'read the document from FILE instead of stdin (- is stdin)', requiresArg: true })
    .option('pretty', { type: 'boolean', default: false, describe: 'indent the document written to stdout' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'log only errors; no progress bars' })
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'log debugging detail' })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'how log lines on stderr look' })
    .option('debug', { type: 'boolean', default: false, describe: 'add stack traces to errors' })
    .option('output', {
      alias: 'o',
      choices: OUTPUT_MODES,
      defaultDescription: 'table on a terminal, else json',
      describe: 'what goes to stdout: json (the document, for the next stage), table (a summary to read) or none',
    })
    .group(['in', 'output', 'pretty', 'quiet', 'verbose', 'log-format', 'debug', 'help', 'version'], 'Common options:');
}

/**
 * yargs renders a command's whole help as the command starts (yargs lib/command.js, cacheHelpMessage
 * after the command's handler), for a handler that fails and shows help later. ag's yargs commands have
 * no handlers (runTool runs them after parsing) and no help follows a command: that help was made and
 * thrown away at every command's start, 6.5 ms of a no-op ag-images pull's CPU (2026-12-03, with its
 * code cache). `--help` and usage errors do not go through it.
 */
function skipHelpAhead(parser: Argv): void {
  const internals = parser as unknown as { getInternalMethods(): { getUsageInstance(): { cacheHelpMessage(): void } } };
  internals.getInternalMethods().getUsageInstance().cacheHelpMessage = () => undefined;
}

function buildParser(tool: ToolDefinition, columns: number | undefined, prepare: (parser: Argv) => void = () => undefined): Argv {
  const parser = yargs().scriptName(tool.name);
  prepare(parser);
  skipHelpAhead(parser);
  return (
    tool
      .configure(addCommonOptions(parser))
      .command('completion [shell]', 'print a completion script: eval "$(ag-… completion bash)", or ag-nodeprep installs them from the bundle', (y) =>
        y.positional('shell', { choices: COMPLETION_SHELLS, default: 'bash', describe: 'bash or zsh' }),
      )
      // The Node.js version too: the single executables carry their own (the bundle's document names it as well).
      .version(`${tool.version} (${runtimeDescription()})`)
      .help()
      .alias('help', 'h')
      .strict()
      .wrap(Math.min(100, columns ?? 100))
      .exitProcess(false)
  );
}

/**
 * `ag-<tool> --cli-spec` (hidden) prints the tool's commands and options as
 * JSON (cli/spec.ts): the build makes man pages and completion from it.
 */
export const CLI_SPEC_FLAG = '--cli-spec';

/** `ag-<tool> --write-shell-files DIR` (hidden; the build runs it): DIR/share/… gets the man page and completion scripts. */
export const SHELL_FILES_FLAG = '--write-shell-files';

/** The tool's command line as data, read from the parser it runs with. */
export function toolSpec(tool: ToolDefinition): ToolSpec {
  let examples: ToolSpec['examples'] = [];
  const parser = buildParser(tool, 100, (fresh) => {
    examples = recordExamples(fresh);
  });
  return specOf(tool.name, tool.version, parser, () => addCommonOptions(yargs()), examples);
}

/** `--log-format` as given, before parsing: a usage error is logged the way the rest of the run would be. */
function logFormatIn(argv: readonly string[]): LogFormat {
  const index = argv.lastIndexOf('--log-format');
  return argv.includes('--log-format=json') || (index >= 0 && argv[index + 1] === 'json') ? 'json' : 'text';
}

interface ParseOutcome {
  error: Error | undefined;
  output: string;
  args: CommonArgs;
}

function parse(parser: Argv, argv: string[]): Promise<ParseOutcome> {
  return new Promise((resolvePromise) => {
    void parser.parse(argv, {}, (error: Error | undefined, args: unknown, output: string) => {
      resolvePromise({ error: error ?? undefined, output, args: args as CommonArgs });
    });
  });
}

/** Writes an error the way every ag tool does: what happened, then what to do. */
export function reportError(log: Logger, error: AgError, debug: boolean): void {
  if (log.format === 'json') {
    // One object a program can read: the hint is a field, not a second line.
    log.error(error.message, { ...errorFields(error), ...(debug && error.stack ? { stack: error.stack } : {}) });
    return;
  }
  log.error(error.message);
  if (error.hint !== undefined) log.error(`next: ${error.hint}`);
  if (debug) log.error(error.stack ?? '(no stack)');
  if (debug && error.cause instanceof Error && error.cause.stack) log.error(`caused by: ${error.cause.stack}`);
}

/**
 * Runs one ag tool in-process: parses `argv`, dispatches to the command's
 * handler, maps errors to exit codes, and returns the exit code (bin.ts sets
 * `process.exitCode`, so stdout is always flushed).
 *
 * Help and version go to stdout (nothing else ever does besides the
 * document); usage errors go to stderr with exit code 2.
 */
export async function runTool(tool: ToolDefinition, givenArgv: string[], io: Io): Promise<number> {
  const parser = buildParser(tool, io.stderr.columns);
  if (givenArgv.length === 1 && givenArgv[0] === CLI_SPEC_FLAG) {
    io.stdout.write(`${JSON.stringify(toolSpec(tool))}\n`);
    return ExitCode.ok;
  }
  if (givenArgv.length === 2 && givenArgv[0] === SHELL_FILES_FLAG) {
    await writeShellFiles(toolSpec(tool), resolve(io.cwd, givenArgv[1]!));
    return ExitCode.ok;
  }
  const earlyLog = createLogger(io, { tool: tool.name, format: logFormatIn(givenArgv) });
  // Names from before the vocabulary (cli/vocabulary.ts) keep working, with a notice.
  const { argv, notices } = rewriteRetiredFlags(tool.name, givenArgv);
  for (const notice of notices) earlyLog.warn(notice);
  const { error, output, args } = await parse(parser, argv);
  // One line saying what was wrong and where the help is, not the help itself (cli/usage-errors.ts).
  const usageError = error !== undefined ? usageErrorFromParser(error.message, argv, toolSpec(tool)) : notANumberError(args, argv);
  if (usageError !== undefined) {
    reportError(earlyLog, usageError, false);
    return ExitCode.usage;
  }
  if (output) {
    io.stdout.write(`${output}\n`);
    return ExitCode.ok;
  }
  const level: LogLevel = args.quiet ? 'error' : args.verbose ? 'debug' : 'info';
  const command = String(args._[0] ?? '$default');
  const progress = createProgress(io, !args.quiet && args['log-format'] === 'text', { label: `${tool.name} ${command}`, verbose: args.verbose });
  // Log lines written while a progress line is drawn go above it, not onto its end.
  const logStderr = { write: (text: string) => progress.interrupt(() => io.stderr.write(text)) } as unknown as Io['stderr'];
  const log = createLogger({ stderr: logStderr }, { tool: tool.name, level, format: args['log-format'] });
  if (command === 'completion' && tool.handlers['completion'] === undefined) {
    io.stdout.write(completionScript(toolSpec(tool), args['shell'] as CompletionShell));
    return ExitCode.ok;
  }
  const handler = tool.handlers[command];
  if (handler === undefined) {
    reportError(log, unknownCommandError(command === '$default' ? undefined : command, toolSpec(tool)), false);
    return ExitCode.usage;
  }
  try {
    const summary = tool.summaries?.[command] ?? summarise(`${tool.name} ${command}: done`);
    const emit = (document: AgDocument): void => {
      // The summary replaces the bars' last frame, not the other way round.
      if (io.stdout.isTTY === true) progress.stop();
      emitDocument(io, args, document, summary);
    };
    const reportPlanned = <A extends PlannedAction>(actions: readonly A[], extra: Record<string, unknown> = {}): void =>
      reportPlannedActions(io, tool.name, actions, extra, args['log-format']);
    const code = await handler({ io, log, progress, emit, reportPlanned, args: args as CommandContext<Record<string, unknown>>['args'] });
    return code ?? ExitCode.ok;
  } catch (thrown) {
    const agError = toAgError(thrown);
    progress.stop();
    reportError(log, agError, args.debug);
    if (agError.kind === 'internal' && !args.debug && log.format === 'text') log.error('next: re-run with --debug for a stack trace, and report it');
    return agError.exitCode;
  } finally {
    progress.stop();
  }
}

/** The few lines each `bin.ts` holds. */
export function runBin(main: (argv: string[]) => Promise<number>): void {
  // A reader that stopped early (`| head`, a failed next stage) closes the pipe:
  // exit quietly as other Unix tools do, not with an EPIPE stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`internal error: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = ExitCode.internal;
    },
  );
}
