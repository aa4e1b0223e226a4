import type { Options } from 'yargs';

/**
 * One name per idea on every ag command line (README, "One vocabulary"). A
 * tool takes a shared flag's definition from here, so that `--root` or
 * `--mirror` means the same in every stage; `detail` adds what is particular
 * to one command (its default, what it does with the value) after the
 * meaning, never instead of it. cli-vocabulary.test.ts walks every tool's
 * options against this table and the README's.
 */
export interface SharedFlag {
  /** The flag without dashes. */
  name: string;
  /** What it means everywhere: each tool's description starts with these words. */
  meaning: string;
  /** The value, as help and the README show it. */
  value: string;
}

export const SHARED_FLAGS = {
  root: { name: 'root', value: 'DIR', meaning: 'the prefix for every host path' },
  dir: { name: 'dir', value: 'DIR', meaning: 'the bundle root' },
  'state-dir': { name: 'state-dir', value: 'DIR', meaning: "where the tool keeps its own state between runs" },
  'ca-file': { name: 'ca-file', value: 'FILE', meaning: "a CA certificate (PEM) to trust for the registry's TLS" },
  'credentials-file': { name: 'credentials-file', value: 'FILE', meaning: 'a username:password file (mode 0600) for the registry' },
  mirror: { name: 'mirror', value: '[UPSTREAM=]TARGET', meaning: 'fetch from a mirror' },
  registry: { name: 'registry', value: 'HOST[:PORT][/PREFIX]', meaning: "the site's registry" },
  layout: { name: 'layout', value: 'DIR', meaning: 'the OCI image layout' },
  'containerd-address': { name: 'containerd-address', value: 'SOCKET', meaning: "containerd's socket" },
} as const satisfies Record<string, SharedFlag>;

export type SharedFlagName = keyof typeof SHARED_FLAGS;

/** The description of a shared flag: its meaning, then what this command adds. */
export function sharedDescription(name: SharedFlagName, detail?: string): string {
  const { meaning } = SHARED_FLAGS[name];
  return detail === undefined ? meaning : detail.startsWith('(') ? `${meaning} ${detail}` : `${meaning}: ${detail}`;
}

/** `--mirror`'s one syntax, for both files (ag-fetch) and images (ag-images); parsed by core's parseMirrorFlag. */
export const MIRROR_SYNTAX =
  'UPSTREAM=TARGET for one upstream host, or TARGET alone for every upstream as TARGET/<upstream host>/…; TARGET is [https://]HOST[:PORT][/PATH] (repeatable)';

type Extra = Omit<Options, 'describe' | 'description' | 'desc'>;

/**
 * A shared flag's yargs definition. A path flag takes one argument; `extra`
 * gives the type when it is not a string, a default, `array`, `demandOption`.
 */
export function sharedOption(name: SharedFlagName, detail?: string, extra: Extra = {}): Options {
  return { type: 'string', requiresArg: true, ...extra, describe: sharedDescription(name, detail) };
}

/**
 * Names a tool used before the vocabulary, kept working for operators'
 * scripts: runTool rewrites them before parsing and says so once on stderr.
 * Help never shows them. `tools` limits a retired name to the tools where it
 * meant the new one (`--dir` is ag-registry's state directory only there).
 */
export interface RetiredFlag {
  name: string;
  replacement: string;
  tools: readonly string[];
}

export const RETIRED_FLAGS: readonly RetiredFlag[] = [
  { name: 'host-root', replacement: 'root', tools: ['ag-kubeadm', 'ag-flannel'] },
  { name: 'dir', replacement: 'state-dir', tools: ['ag-registry'] },
  { name: 'ca', replacement: 'ca-file', tools: ['ag-registry'] },
  { name: 'credentials', replacement: 'credentials-file', tools: ['ag-registry'] },
  { name: 'mirror-base', replacement: 'mirror', tools: ['ag-fetch'] },
  { name: 'address', replacement: 'containerd-address', tools: ['ag-images'] },
];

/** The retired names that apply to `tool`. */
export function retiredFlagsOf(tool: string): RetiredFlag[] {
  return RETIRED_FLAGS.filter((flag) => flag.tools.includes(tool));
}

/**
 * Rewrites retired flags in `argv` to their replacements (`--host-root X`,
 * `--host-root=X`, `--no-credentials`), up to a `--`. Returns the new argv
 * and one notice per retired name used.
 */
export function rewriteRetiredFlags(tool: string, argv: readonly string[]): { argv: string[]; notices: string[] } {
  const retired = retiredFlagsOf(tool);
  const notices = new Set<string>();
  const out: string[] = [];
  let ended = false;
  for (const token of argv) {
    if (token === '--') ended = true;
    if (ended || !token.startsWith('--')) {
      out.push(token);
      continue;
    }
    const match = /^--(no-)?([^=]+)(=.*)?$/.exec(token);
    const flag = match === null ? undefined : retired.find((r) => r.name === match[2]);
    if (match === null || flag === undefined) {
      out.push(token);
      continue;
    }
    notices.add(`--${match[1] ?? ''}${flag.name} is deprecated: use --${match[1] ?? ''}${flag.replacement} (same meaning; the old name will go)`);
    out.push(`--${match[1] ?? ''}${flag.replacement}${match[3] ?? ''}`);
  }
  return { argv: out, notices: [...notices] };
}
