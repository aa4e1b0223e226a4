import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './executables.js';

type Wrap = (text: string, columns: number, options?: { hard?: boolean; trim?: boolean; wordWrap?: boolean }) => string;

/** The wrap-ansi cliui imports, found as Node.js finds it from cliui's directory. */
function cliuiWrapAnsi(): string {
  const cliui = join(REPO_ROOT, 'packages', 'core', 'node_modules', 'cliui');
  const candidates = [join(cliui, 'node_modules'), join(REPO_ROOT, 'packages', 'core', 'node_modules'), join(REPO_ROOT, 'node_modules')];
  const dir = candidates.map((modules) => join(modules, 'wrap-ansi')).find((path) => existsSync(join(path, 'index.js')));
  if (dir === undefined) throw new Error(`no wrap-ansi for cliui under ${candidates.join(', ')}`);
  return join(dir, 'index.js');
}

const WORDS = ['a', 'of', 'the', 'kubeadm', 'containerd', '--preload-images', '/etc/kubernetes/resolv.conf', 'registry.k8s.io/pause:3.10', '日本語', 'x'.repeat(37), ''];

/** Text like a help cell's, from a seed: words, runs of spaces, line breaks. */
function sample(seed: number): string {
  let state = seed;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const parts: string[] = [];
  for (let i = next(30); i >= 0; i -= 1) {
    parts.push(WORDS[next(WORDS.length)]!);
    parts.push([' ', ' ', ' ', '  ', '\n', '\r\n', '   '][next(7)]!);
  }
  return parts.join('');
}

describe('plain-wrap-ansi.mjs: wrap-ansi for text without escape sequences (what cliui wraps in a bundled --help)', () => {
  let wrapAnsi: Wrap;
  let wrapPlain: Wrap;
  let isPlain: (text: string) => boolean;

  beforeAll(async () => {
    wrapAnsi = ((await import(pathToFileURL(cliuiWrapAnsi()).href)) as { default: Wrap }).default;
    ({ wrapPlain, isPlain } = (await import(pathToFileURL(join(REPO_ROOT, 'tools', 'build', 'plain-wrap-ansi.mjs')).href)) as { wrapPlain: Wrap; isPlain: (text: string) => boolean });
  });

  it('wraps as wrap-ansi does, for every width and option cliui and yargs pass', () => {
    const optionSets = [{ hard: true }, { hard: true, trim: false }, {}, { trim: false }, { wordWrap: false }, { hard: true, wordWrap: false, trim: false }];
    let compared = 0;
    for (let seed = 1; seed <= 60; seed += 1) {
      const text = sample(seed);
      for (const columns of [1, 7, 26, 80]) {
        for (const options of optionSets) {
          expect(wrapPlain(text, columns, options), JSON.stringify({ text, columns, options })).toBe(wrapAnsi(text, columns, options));
          compared += 1;
        }
      }
    }
    expect(compared).toBe(60 * 4 * 6);
  });

  it('leaves text with an escape sequence to wrap-ansi', () => {
    expect(isPlain('plain text, 日本語 and all')).toBe(true);
    expect(isPlain('\u001B[31mred\u001B[39m')).toBe(false);
    expect(isPlain('\u009B31mred')).toBe(false);
  });
});
