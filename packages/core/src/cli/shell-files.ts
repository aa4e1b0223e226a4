import { join } from 'node:path';
import type { CommandSpec, OptionSpec, ToolSpec } from './spec.js';

/**
 * Shell completion and a man page for one tool, made from its command
 * definitions (ToolSpec, read from the parser it runs with), so that they
 * never disagree with --help. Static scripts: a TAB starts no Node.js.
 */

export type CompletionShell = 'bash' | 'zsh';
export const COMPLETION_SHELLS: readonly CompletionShell[] = ['bash', 'zsh'];

/** Where the bundle carries them (tools/share/…), and where ag-nodeprep installs them on a node. */
export function shellFilePaths(tool: string): { bash: string; zsh: string; man: string } {
  return {
    bash: `share/bash-completion/completions/${tool}`,
    zsh: `share/zsh/vendor-completions/_${tool}`,
    man: `share/man/man1/${tool}.1`,
  };
}

const visibleCommands = (spec: ToolSpec): CommandSpec[] => spec.commands.filter((c) => !c.hidden);

/** The options a command takes, its own first, then the tool-wide ones (help and version last). */
function optionsFor(spec: ToolSpec, command: CommandSpec | undefined): OptionSpec[] {
  const own = (command?.options ?? []).filter((o) => !o.hidden && !o.positional);
  return [...own, ...spec.options.filter((o) => !o.hidden && !own.some((x) => x.name === o.name))];
}

const flagsOf = (options: readonly OptionSpec[]): string[] =>
  options.flatMap((o) => [`--${o.name}`, ...o.aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`))]);

const takesPath = (option: OptionSpec): boolean => option.type === 'string' && option.choices === undefined && /\b(FILE|DIR|file|directory|path|root|layout|socket|binary|key|kubeconfig|bundle|PEM)\b/.test(`${option.name} ${option.describe}`);

/** `ag-fetch completion bash`: complete -F with the commands, each command's flags, choices and file names. */
export function bashCompletion(spec: ToolSpec): string {
  const fn = `_${spec.name.replace(/[^a-zA-Z0-9]/g, '_')}`;
  const commands = visibleCommands(spec);
  const all = [...new Map([...spec.options, ...commands.flatMap((c) => c.options)].map((o) => [o.name, o])).values()].filter((o) => !o.hidden && !o.positional);
  const choiceCases = all.filter((o) => o.choices !== undefined).map((o) => `    --${o.name}) COMPREPLY=($(compgen -W "${o.choices!.join(' ')}" -- "$cur")); return ;;`);
  const pathFlags = all.filter(takesPath).map((o) => `--${o.name}`);
  const lines = [
    `# bash completion for ${spec.name} ${spec.version}, generated from its command definitions`,
    `${fn}() {`,
    '  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} command= i',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    `    case ${'${COMP_WORDS[i]}'} in ${commands.map((c) => c.name).join('|') || '__none__'}) command=${'${COMP_WORDS[i]}'}; break ;; esac`,
    '  done',
    '  case $prev in',
    ...choiceCases,
    ...(pathFlags.length > 0 ? [`    ${pathFlags.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`] : []),
    '  esac',
    '  local words',
    '  case $command in',
    ...commands.map((c) => `    ${c.name}) words="${flagsOf(optionsFor(spec, c)).join(' ')}" ;;`),
    `    *) words="${[...commands.map((c) => c.name), ...flagsOf(optionsFor(spec, undefined))].join(' ')}" ;;`,
    '  esac',
    '  COMPREPLY=($(compgen -W "$words" -- "$cur"))',
    '  if [[ ${#COMPREPLY[@]} -eq 0 && $cur != -* ]]; then COMPREPLY=($(compgen -f -- "$cur")); fi',
    '}',
    `complete -o filenames -F ${fn} ${spec.name}`,
    '',
  ];
  return lines.join('\n');
}

/** Text inside a zsh _arguments description: no brackets, colons or quotes to end it early. */
function zshText(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/[[\]]/g, (c) => (c === '[' ? '(' : ')')).replace(/:/g, '\\:').replace(/'/g, "'\\''").slice(0, 120);
}

function zshSpec(option: OptionSpec): string {
  const value = option.type === 'boolean' || option.type === 'count' ? '' : option.choices !== undefined ? `:value:(${option.choices.join(' ')})` : takesPath(option) ? ':file:_files' : ':value: ';
  const repeat = option.array ? '*' : '';
  return `'${repeat}--${option.name}[${zshText(option.describe)}]${value}'`;
}

/** `ag-fetch completion zsh`: a #compdef function with each command and its flags described. */
export function zshCompletion(spec: ToolSpec): string {
  const commands = visibleCommands(spec);
  const fn = `_${spec.name}`;
  return [
    `#compdef ${spec.name}`,
    `# zsh completion for ${spec.name} ${spec.version}, generated from its command definitions`,
    `${fn}() {`,
    '  local -a commands',
    `  commands=(${commands.map((c) => `'${c.name}:${zshText(c.describe)}'`).join(' ')})`,
    '  if (( CURRENT == 2 )); then',
    "    _describe 'command' commands",
    '    return',
    '  fi',
    '  case $words[2] in',
    ...commands.map((c) => `    ${c.name}) _arguments -s ${optionsFor(spec, c).map(zshSpec).join(' ')} '*:file:_files' ;;`),
    '  esac',
    '}',
    `${fn} "$@"`,
    '',
  ].join('\n');
}

export function completionScript(spec: ToolSpec, shell: CompletionShell): string {
  return shell === 'bash' ? bashCompletion(spec) : zshCompletion(spec);
}

/** Writes the tool's man page and completion scripts under `dir` (shellFilePaths), each atomically. */
export async function writeShellFiles(spec: ToolSpec, dir: string): Promise<string[]> {
  const paths = shellFilePaths(spec.name);
  const files: Array<[string, string]> = [
    [paths.bash, bashCompletion(spec)],
    [paths.zsh, zshCompletion(spec)],
    [paths.man, manPage(spec)],
  ];
  // On use: every tool's start reaches this module (cli.ts), and atomic.ts loads node:crypto (~5 ms of Node's modules).
  const { writeFileAtomic } = await import('../atomic.js');
  for (const [path, text] of files) await writeFileAtomic(join(dir, path), text);
  return files.map(([path]) => join(dir, path));
}

/** roff-safe text: a backslash printed as such, no line read as a request. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

function optionEntry(option: OptionSpec): string[] {
  const names = [`--${option.name}`, ...option.aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`))].map((n) => `\\fB${roff(n)}\\fR`).join(', ');
  const value = option.type === 'boolean' || option.type === 'count' ? '' : option.choices !== undefined ? ` \\fI${roff(option.choices.join('|'))}\\fR` : ' \\fIVALUE\\fR';
  const facts = [
    option.array && !option.describe.includes('repeatable') ? 'repeatable' : undefined,
    option.default !== undefined && !(Array.isArray(option.default) && option.default.length === 0) && option.default !== false ? `default: ${Array.isArray(option.default) ? option.default.join(', ') : String(option.default)}` : undefined,
  ].filter((f) => f !== undefined);
  return ['.TP', `${names}${value}`, roff(`${option.describe}${facts.length > 0 ? ` [${facts.join('; ')}]` : ''}`)];
}

/** The tool's man page (section 1): synopsis, each command with its options, the common options, examples. */
export function manPage(spec: ToolSpec): string {
  const [synopsis = spec.name, ...about] = spec.usage.split('\n\n');
  const commands = visibleCommands(spec);
  const upper = spec.name.toUpperCase();
  const lines = [
    `.\\" Generated from ${spec.name}'s command definitions; do not edit.`,
    `.TH ${roff(upper)} 1 "" "${roff(`${spec.name} ${spec.version}`)}" "ag manual"`,
    '.SH NAME',
    `${roff(spec.name)} \\- ${roff((about.join(' ').split(/(?<=\.)\s/)[0] ?? '').trim() || 'an ag tool')}`,
    '.SH SYNOPSIS',
    roff(synopsis),
    '.SH DESCRIPTION',
    roff(about.join('\n\n') || spec.name),
    '.SH COMMANDS',
  ];
  for (const command of commands) {
    lines.push('.SS', `\\fB${roff(`${spec.name} ${command.usage}`)}\\fR`, roff(command.describe));
    const own = command.options.filter((o) => !o.hidden);
    for (const option of own) lines.push(...(option.positional ? ['.TP', `\\fI${roff(option.name)}\\fR`, roff(option.describe)] : optionEntry(option)));
  }
  lines.push('.SH OPTIONS', 'Every command takes these.');
  for (const option of spec.options.filter((o) => !o.hidden)) lines.push(...optionEntry(option));
  if (spec.examples.length > 0) {
    lines.push('.SH EXAMPLES');
    for (const example of spec.examples) lines.push('.TP', `\\f(CW${roff(example.command)}\\fR`, roff(example.describe));
  }
  lines.push(
    '.SH EXIT STATUS',
    '0 done; 1 internal error; 2 usage error or a malformed document; 3 verification failed; 4 unreachable; 5 missing; 6 the local system refused; 7 a program ag ran failed; 8 credentials refused.',
    '.SH SEE ALSO',
    'The ag README (the stages, one vocabulary of flags, the document).',
    '',
  );
  return lines.join('\n');
}
