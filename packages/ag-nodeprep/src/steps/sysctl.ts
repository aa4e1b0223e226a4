import { readFile } from 'node:fs/promises';
import { runAction } from '../actions/run-command.js';
import { writeFileAction } from '../actions/write-file.js';
import type { StepCode } from '../context.js';
import { generatedHeader } from './header.js';

/** The sysctls kubeadm's preflight checks and every CNI expect. */
export const SYSCTLS: Readonly<Record<string, string>> = {
  'net.bridge.bridge-nf-call-iptables': '1',
  'net.bridge.bridge-nf-call-ip6tables': '1',
  'net.ipv4.ip_forward': '1',
};
export const SYSCTL_FILE = '/etc/sysctl.d/k8s.conf';

/** The live value of a sysctl, or undefined when the key does not exist (br_netfilter not loaded). */
export async function liveSysctl(key: string): Promise<string | undefined> {
  return readFile(`/proc/sys/${key.replaceAll('.', '/')}`, 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
}

export const sysctlStep: StepCode = {
  async plan({ root }) {
    const lines = Object.entries(SYSCTLS).map(([key, value]) => `${key} = ${value}`);
    return [
      await writeFileAction(
        {
          step: 'sysctl',
          path: SYSCTL_FILE,
          why: 'set at boot: pods reach each other through the bridge and iptables, and the node forwards their traffic',
          mode: 0o644,
          content: `${generatedHeader('sysctl', 'kernel settings Kubernetes needs')}${lines.join('\n')}\n`,
        },
        root,
      ),
      runAction({
        step: 'sysctl',
        command: ['sysctl', '-p', SYSCTL_FILE],
        why: 'apply them now, without a reboot (after the modules step loaded br_netfilter)',
        async due() {
          const wrong: string[] = [];
          for (const [key, value] of Object.entries(SYSCTLS)) {
            const live = await liveSysctl(key);
            if (live !== value) wrong.push(`${key} is ${live ?? 'absent'}`);
          }
          return wrong.length === 0 ? undefined : `sysctl ${wrong.join(', ')} (wanted ${Object.values(SYSCTLS)[0]})`;
        },
        hint: 'the bridge keys exist only once br_netfilter is loaded: run the modules step first (or modprobe br_netfilter)',
      }),
    ];
  },
};
