import { stat } from 'node:fs/promises';
import { runAction } from '../actions/run-command.js';
import { writeFileAction } from '../actions/write-file.js';
import type { StepCode } from '../context.js';
import { generatedHeader } from './header.js';

/** overlay for containerd's snapshotter; br_netfilter so bridged pod traffic passes iptables (kube-proxy, flannel). */
export const KERNEL_MODULES = ['overlay', 'br_netfilter'] as const;
export const MODULES_FILE = '/etc/modules-load.d/k8s.conf';

/** Whether a module is in the running kernel, loaded or built in (/sys/module/<name> exists for both). */
export async function moduleLoaded(name: string): Promise<boolean> {
  return stat(`/sys/module/${name}`).then(
    () => true,
    () => false,
  );
}

export const modulesStep: StepCode = {
  async plan({ root }) {
    const why = 'containerd needs overlay; pod traffic over the bridge must pass iptables (br_netfilter)';
    return [
      await writeFileAction(
        { step: 'modules', path: MODULES_FILE, why: `load at boot: ${why}`, mode: 0o644, content: `${generatedHeader('modules', 'kernel modules Kubernetes needs at boot')}${KERNEL_MODULES.join('\n')}\n` },
        root,
      ),
      ...KERNEL_MODULES.map((name) =>
        runAction({
          step: 'modules',
          command: ['modprobe', name],
          why: `load ${name} now, without a reboot`,
          due: async () => ((await moduleLoaded(name)) ? undefined : `kernel module ${name} is not loaded`),
          hint: `the running kernel has no ${name} module (is /lib/modules/$(uname -r) installed?); install the kernel modules package and run apply again`,
        }),
      ),
    ];
  },
};
