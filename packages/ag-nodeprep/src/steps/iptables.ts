import { readlink } from 'node:fs/promises';
import { requireAction, runAction } from '../actions/run-command.js';
import type { StepCode, StepContext, IptablesBackend } from '../context.js';
import { nodeExists } from '../root-fs.js';

/** legacy where the OS ships it (the classic kubeadm procedure), nft on RHEL 8+, which has no legacy backend. */
export function defaultBackend(context: Pick<StepContext, 'os' | 'options'>): IptablesBackend {
  return context.options.iptablesBackend ?? (context.os.family === 'rhel' ? 'nft' : 'legacy');
}

export const IPTABLES_TOOLS = ['iptables', 'ip6tables'] as const;

export const iptablesStep: StepCode = {
  async plan(context) {
    const backend = defaultBackend(context);
    if (context.os.family === 'rhel') {
      if (backend === 'nft') return [];
      return [
        requireAction({
          step: 'iptables',
          target: 'iptables-legacy',
          why: 'RHEL 8 and later ship only the nft backend',
          problems: async () => ['RHEL has no iptables-legacy backend'],
          hint: 'run with --iptables-backend nft (the default on RHEL)',
        }),
      ];
    }
    const tool = context.os.family === 'fedora' ? 'alternatives' : 'update-alternatives';
    return IPTABLES_TOOLS.map((name) => {
      const wanted = `/usr/sbin/${name}-${backend}`;
      return runAction({
        step: 'iptables',
        command: [tool, '--set', name, wanted],
        why: `use the ${backend} backend for ${name}: kube-proxy, flannel and the host must write rules to the same one`,
        async due(env) {
          if (!(await nodeExists(env.root, wanted))) return `${wanted} is not installed`;
          const current = await readlink('/etc/alternatives/' + name).catch(() => undefined);
          return current === wanted ? undefined : `${name} uses ${current ?? 'no alternative'}, wanted ${wanted}`;
        },
        hint: `install the ${backend === 'legacy' ? 'iptables-legacy (Fedora) or iptables' : 'iptables-nft or iptables'} package, or choose the other --iptables-backend`,
        needs: [wanted],
      });
    });
  },
};
