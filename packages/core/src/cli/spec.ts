import type { Argv } from 'yargs';

/** One option as the tool's yargs definition has it. */
export interface OptionSpec {
  name: string;
  aliases: string[];
  type: 'string' | 'boolean' | 'number' | 'count' | undefined;
  array: boolean;
  describe: string;
  choices: string[] | undefined;
  default: unknown;
  hidden: boolean;
  positional: boolean;
}

export interface CommandSpec {
  /** `plan`, `verify` (the positionals stripped); `$default` none. */
  name: string;
  /** As declared: `verify <bundle..>`. */
  usage: string;
  describe: string;
  /** Declared with `false` for a description: internal, absent from help. */
  hidden: boolean;
  /** The command's own options and positionals, then the tool-wide ones. */
  options: OptionSpec[];
}

/** A tool's command line, from the same yargs definition the tool parses with: for completion, man pages, the vocabulary test. */
export interface ToolSpec {
  name: string;
  version: string;
  usage: string;
  /** Options every command takes (core's common ones and the tool's top-level ones). */
  options: OptionSpec[];
  commands: CommandSpec[];
  examples: Array<{ command: string; describe: string }>;
}

// yargs' own introspection (yargs 17): getOptions(), the usage instance's descriptions and the
// command instance's handlers are what help is made from; their types are not exported.
interface ParsedOptions {
  key: Record<string, boolean>;
  alias: Record<string, string[]>;
  array: string[];
  boolean: string[];
  string: string[];
  number: string[];
  count: string[];
  choices: Record<string, unknown[]>;
  default: Record<string, unknown>;
  hiddenOptions: string[];
}
interface Internals {
  getUsageInstance(): { getDescriptions(): Record<string, string | undefined>; getUsage(): Array<[string, string]> };
  getCommandInstance(): {
    getCommandHandlers(): Record<string, { original: string; description: string | false; builder: unknown; demanded: Array<{ cmd: string[] }>; optional: Array<{ cmd: string[] }> }>;
  };
}
const internals = (parser: Argv): Internals => (parser as unknown as { getInternalMethods(): Internals }).getInternalMethods();
const optionsOf = (parser: Argv): ParsedOptions => (parser as unknown as { getOptions(): ParsedOptions }).getOptions();

const YARGS_DESCRIPTION = '__yargsString__:';

function optionSpecs(parser: Argv, positionals: ReadonlySet<string>, only?: (name: string) => boolean): OptionSpec[] {
  const options = optionsOf(parser);
  const descriptions = internals(parser).getUsageInstance().getDescriptions();
  const aliasTargets = new Set(Object.values(options.alias).flat());
  const specs: OptionSpec[] = [];
  for (const name of Object.keys(options.key)) {
    // yargs lists each alias as a key too: keep the name it was defined under.
    if (aliasTargets.has(name) && !(name in descriptions)) continue;
    if (only !== undefined && !only(name)) continue;
    const type = options.boolean.includes(name) ? 'boolean' : options.number.includes(name) ? 'number' : options.count.includes(name) ? 'count' : options.string.includes(name) ? 'string' : undefined;
    const described = descriptions[name] ?? '';
    specs.push({
      name,
      aliases: options.alias[name] ?? [],
      type,
      array: options.array.includes(name),
      describe: described.startsWith(YARGS_DESCRIPTION) ? described.slice(YARGS_DESCRIPTION.length) : described,
      choices: options.choices[name]?.map(String),
      default: options.default[name],
      hidden: options.hiddenOptions.includes(name),
      positional: positionals.has(name),
    });
  }
  return specs;
}

/** Records the examples `configure` adds (yargs keeps them to itself), for specOf. */
export function recordExamples(parser: Argv): ToolSpec['examples'] {
  const examples: ToolSpec['examples'] = [];
  const original = parser.example.bind(parser);
  parser.example = ((command: string, describe: string) => {
    examples.push({ command, describe });
    return original(command, describe);
  }) as Argv['example'];
  return examples;
}

/**
 * Reads a configured parser back: every command with its options, as the
 * builder functions declare them (each run on a fresh parser, the way yargs
 * runs one when its command is given). `fresh` makes such a parser with the
 * options every command has (core's common options).
 */
export function specOf(name: string, version: string, parser: Argv, fresh: () => Argv, examples: ToolSpec['examples'] = []): ToolSpec {
  const usage = internals(parser).getUsageInstance();
  const topLevel = optionSpecs(parser, new Set());
  const topNames = new Set(topLevel.map((o) => o.name));
  const commands: CommandSpec[] = [];
  for (const handler of Object.values(internals(parser).getCommandInstance().getCommandHandlers())) {
    const sub = fresh();
    if (typeof handler.builder === 'function') (handler.builder as (y: Argv) => Argv)(sub);
    const positionals = new Set([...handler.demanded, ...handler.optional].flatMap((p) => p.cmd));
    commands.push({
      name: handler.original.split(/\s+/)[0]!,
      usage: handler.original,
      describe: handler.description === false ? '' : handler.description,
      hidden: handler.description === false,
      options: optionSpecs(sub, positionals, (option) => !topNames.has(option) || positionals.has(option)),
    });
  }
  return {
    name,
    version,
    usage: (usage.getUsage()[0]?.[0] ?? '$0').replace(/\$0/g, name),
    options: topLevel,
    commands,
    examples: examples.map(({ command, describe }) => ({ command: command.replace(/\$0/g, name), describe })),
  };
}
