import { UsageError } from '../errors.js';
import type { ToolSpec } from './spec.js';

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/** The closest of `candidates` to `given`, if it is close enough to be a typo (or `given` is a prefix of it). */
export function closest(given: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; score: number } | undefined;
  for (const name of candidates) {
    const score = name.startsWith(given) || given.startsWith(name) ? 0.5 : distance(given, name);
    if (best === undefined || score < best.score) best = { name, score };
  }
  return best !== undefined && best.score <= Math.max(2, Math.floor(given.length / 3)) ? best.name : undefined;
}

/** The command given in argv (its first word that names one), if any. */
export function commandIn(argv: readonly string[], spec: ToolSpec): string | undefined {
  const names = new Set(spec.commands.map((c) => c.name));
  return argv.find((token) => names.has(token));
}

function seeHelp(spec: ToolSpec, command: string | undefined): string {
  return `see ${spec.name}${command === undefined ? '' : ` ${command}`} --help`;
}

/** yargs' other refusals (its English messages, yargs 17 locales/en.json), said in one line with the flag's dashes. */
function plainParserMessage(message: string): string {
  const missing = /^Missing required arguments?: (.+)$/.exec(message);
  if (missing !== null) return `missing ${missing[1]!.split(', ').map((name) => `--${name}`).join(', ')}`;
  const noValue = /^Not enough arguments following: (.+)$/.exec(message);
  if (noValue !== null) return `--${noValue[1]} needs a value`;
  const choices = [...message.matchAll(/Argument: (.+?), Given: (.+?), Choices: (.+)/g)];
  if (choices.length > 0) return choices.map(([, name, given, allowed]) => `--${name} ${given} is not one of ${allowed!.replace(/"/g, '')}`).join('; ');
  return message.replace(/\s*\n\s*/g, ' ').replace(/^./, (c) => c.toLowerCase());
}

/**
 * One line for what yargs refused, instead of its help text followed by the
 * message: `unknown option --bogus; did you mean --foo?`, and where the
 * help is. The hint names the help of the command that was given.
 */
export function usageErrorFromParser(message: string, argv: readonly string[], spec: ToolSpec): UsageError {
  const command = commandIn(argv, spec);
  const hint = seeHelp(spec, command);
  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  const usage = spec.commands.find((c) => c.name === command)?.usage;
  if (/^Not enough non-option arguments/.test(message) && usage !== undefined) return new UsageError(`missing arguments: ${spec.name} ${usage}`, { hint });
  if (unknown === null) return new UsageError(plainParserMessage(message), { hint });
  const names = unknown[1]!.split(', ');
  const options = [...spec.options, ...(spec.commands.find((c) => c.name === command)?.options ?? [])].filter((o) => !o.hidden && !o.positional);
  const flagNames = options.flatMap((o) => [o.name, ...o.aliases.filter((a) => a.length > 1)]);
  const described = names.map((name) => {
    // yargs names an unknown flag without dashes, and a stray word as it was given.
    const asFlag = argv.some((token) => token === `--${name}` || token.startsWith(`--${name}=`) || token === `-${name}`);
    if (asFlag) {
      const near = closest(name, flagNames);
      return `unknown option ${name.length === 1 ? '-' : '--'}${name}${near === undefined ? '' : `; did you mean --${near}?`}`;
    }
    const visible = spec.commands.filter((c) => !c.hidden).map((c) => c.name);
    const near = command === undefined ? closest(name, visible) : undefined;
    return command === undefined
      ? `unknown command ${JSON.stringify(name)}${near === undefined ? `; the commands are ${visible.join(', ')}` : `; did you mean ${near}?`}`
      : `unexpected argument ${JSON.stringify(name)}`;
  });
  return new UsageError(described.join('; '), { hint });
}

/** A command word that names no command (yargs lets it through when the tool has positionals of its own). */
export function unknownCommandError(given: string | undefined, spec: ToolSpec): UsageError {
  const visible = spec.commands.filter((c) => !c.hidden).map((c) => c.name);
  if (given === undefined) return new UsageError(`no command given: one of ${visible.join(', ')}`, { hint: seeHelp(spec, undefined) });
  const near = closest(given, visible);
  return new UsageError(`unknown command ${JSON.stringify(given)}${near === undefined ? `; the commands are ${visible.join(', ')}` : `; did you mean ${near}?`}`, {
    hint: seeHelp(spec, undefined),
  });
}

/**
 * yargs turns `--concurrency lots` into NaN and lets it through: name the
 * flag and what was given instead of a later "got NaN".
 */
export function notANumberError(args: Record<string, unknown>, argv: readonly string[]): UsageError | undefined {
  for (const [name, value] of Object.entries(args)) {
    const values = Array.isArray(value) ? value : [value];
    if (!values.some((v) => typeof v === 'number' && Number.isNaN(v))) continue;
    const index = argv.findIndex((token) => token === `--${name}` || token.startsWith(`--${name}=`));
    if (index < 0) continue;
    const token = argv[index]!;
    const given = token.includes('=') ? token.slice(token.indexOf('=') + 1) : (argv[index + 1] ?? '');
    return new UsageError(`--${name} takes a number, not ${JSON.stringify(given)}`, { hint: `for example --${name} 4` });
  }
  return undefined;
}
