import { readFile } from 'node:fs/promises';
import { requireAction, runAction } from '../actions/run-command.js';
import { writeFileAction } from '../actions/write-file.js';
import type { StepCode } from '../context.js';
import { firstExisting, nodeExists } from '../root-fs.js';

export const SELINUX_CONFIG = '/etc/selinux/config';
/** Where container-selinux puts its policy module (older and newer layouts). */
export const CONTAINER_SELINUX_POLICY = ['/usr/share/selinux/packages/container.pp.bz2', '/usr/share/selinux/packages/targeted/container.pp.bz2', '/usr/share/selinux/packages/container.pp'];

/** The mode a selinux config sets at boot (`enforcing`, `permissive`, `disabled`). */
export function selinuxBootMode(text: string): string | undefined {
  return /^\s*SELINUX\s*=\s*(\w+)/m.exec(text)?.[1]?.toLowerCase();
}

/** The config with SELINUX=permissive; `disabled` is left alone (turning it on needs a relabel). */
export function selinuxPermissive(text: string): string {
  const mode = selinuxBootMode(text);
  if (mode === 'disabled' || mode === 'permissive') return text;
  if (mode === undefined) return `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}SELINUX=permissive\n`;
  return text.replace(/^(\s*SELINUX\s*=\s*)\w+/m, '$1permissive');
}

export const selinuxStep: StepCode = {
  async plan({ root, options }) {
    if (!(await nodeExists(root, SELINUX_CONFIG))) return [];
    if (options.selinux === 'enforcing') {
      return [
        requireAction({
          step: 'selinux',
          target: 'container-selinux',
          why: 'SELinux stays enforcing: containers need the container-selinux policy (and containerd enable_selinux, set by the containerd step)',
          async problems(env) {
            return (await firstExisting(env.root, CONTAINER_SELINUX_POLICY)) === undefined
              ? [`the container-selinux policy is not installed (none of ${CONTAINER_SELINUX_POLICY.join(', ')})`]
              : [];
          },
          hint: 'install container-selinux (carry it with the OS packages), or run with --selinux permissive',
          providedBy: { packages: ['container-selinux'], paths: CONTAINER_SELINUX_POLICY },
        }),
      ];
    }
    return [
      await writeFileAction(
        {
          step: 'selinux',
          path: SELINUX_CONFIG,
          why: 'SELinux permissive at boot: the kubelet, static pods and CNI plugins write where the default policy forbids',
          content: (current) => selinuxPermissive(current ?? ''),
          explain: (current) => [`SELinux is ${selinuxBootMode(current) ?? 'unset'} at boot (${SELINUX_CONFIG}), wanted permissive`],
        },
        root,
      ),
      runAction({
        step: 'selinux',
        command: ['setenforce', '0'],
        why: 'SELinux permissive now, without a reboot',
        async due() {
          const enforce = await readFile('/sys/fs/selinux/enforce', 'utf8').catch(() => '0');
          return enforce.trim() === '1' ? 'SELinux is enforcing now' : undefined;
        },
      }),
    ];
  },
};
