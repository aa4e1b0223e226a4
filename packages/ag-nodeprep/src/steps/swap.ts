import { readFile } from 'node:fs/promises';
import { symlinkAction } from '../actions/link.js';
import { runAction } from '../actions/run-command.js';
import type { Action } from '../actions/types.js';
import { writeFileAction } from '../actions/write-file.js';
import type { StepCode } from '../context.js';
import { firstExisting, nodeExists } from '../root-fs.js';
import { generatedHeader } from './header.js';

/** How ag-nodeprep comments out an fstab swap line: recognisable, and reversible by deleting the prefix. */
export const FSTAB_PREFIX = '# ag-nodeprep (swap off): ';

function isSwapLine(line: string): boolean {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return false;
  return trimmed.split(/\s+/)[2] === 'swap';
}

/** fstab with every swap line commented out; other lines untouched. */
export function fstabWithoutSwap(text: string): string {
  return text
    .split('\n')
    .map((line) => (isSwapLine(line) ? `${FSTAB_PREFIX}${line}` : line))
    .join('\n');
}

/** The active swap lines of an fstab, for check. */
export function fstabSwapProblems(text: string): string[] {
  return text
    .split('\n')
    .flatMap((line, i) => (isSwapLine(line) ? [`swap is on at boot: /etc/fstab line ${i + 1}: ${line.trim()}`] : []));
}

/** The swap areas in use now (/proc/swaps, header dropped). */
export async function activeSwaps(): Promise<string[]> {
  const text = await readFile('/proc/swaps', 'utf8').catch(() => '');
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

export const ZRAM_CONFIGS = ['/usr/lib/systemd/zram-generator.conf', '/etc/systemd/zram-generator.conf', '/usr/lib/systemd/system-generators/zram-generator'];
export const ZRAM_OVERRIDE = '/etc/systemd/zram-generator.conf';

export const swapStep: StepCode = {
  async plan({ root }) {
    const actions: Action[] = [];
    if (await nodeExists(root, '/etc/fstab')) {
      actions.push(
        await writeFileAction(
          {
            step: 'swap',
            path: '/etc/fstab',
            why: 'the kubelet refuses to start with swap on (unless configured otherwise): comment out swap lines',
            content: (current) => fstabWithoutSwap(current ?? ''),
            explain: fstabSwapProblems,
          },
          root,
        ),
      );
    }
    if ((await firstExisting(root, ZRAM_CONFIGS)) !== undefined) {
      // zram-generator(8): a config in /etc replaces the one in /usr/lib; with no [zram*] section, no device is made.
      actions.push(
        await writeFileAction(
          {
            step: 'swap',
            path: ZRAM_OVERRIDE,
            why: 'Fedora makes swap on zram at boot; an override with no [zram0] section disables it',
            mode: 0o644,
            content: `${generatedHeader('swap', 'no [zram0] section, so zram-generator creates no swap device')}`,
          },
          root,
        ),
      );
    }
    actions.push(
      symlinkAction({ step: 'swap', path: '/etc/systemd/system/swap.target', linkTo: '/dev/null', why: 'mask swap.target so no unit turns swap back on at boot' }),
      runAction({
        step: 'swap',
        command: ['swapoff', '-a'],
        why: 'turn swap off now, without a reboot',
        async due() {
          const swaps = await activeSwaps();
          return swaps.length === 0 ? undefined : `swap is on now: ${swaps.join(', ')}`;
        },
      }),
    );
    return actions;
  },
};
