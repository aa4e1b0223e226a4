import { chmod, copyFile, lstat, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgDocument } from '@ag/core';
import { kubectlStandIn, writeKubeadmDouble } from '@ag/fixtures';
import type { Command, Shell } from './shell.js';
import type { Stages } from './stages.js';

/** The far side's kubeadm results: the documents after preflight, init (control plane) and join (a worker). */
export interface FarKubeadm {
  preflight: AgDocument;
  initialised: AgDocument;
  joined: AgDocument;
}

const ROOTS = { cp: 'root', worker: 'worker-root' } as const;

/**
 * `ag-kubeadm preflight`, `init` and `join` on the far side. kubeadm cannot
 * run here (it needs a kubelet and a control plane), so it is the test kit's
 * kubeadm double of the carried release, which reads the configuration
 * ag-kubeadm wrote by kubeadm's rules and writes what kubeadm writes; kubectl
 * is the kit's stand-in answering from the double's cluster. Everything
 * else is real: the node trees ag-nodeprep wrote, containerd with the images
 * it pulled through the mirrors (its socket linked where kubeadm looks for
 * it), the internal registry.
 */
export async function runFarKubeadm(
  shell: Shell,
  stages: Stages,
  tool: (name: string, args: string[], extra: Partial<Command>) => Command,
  containerdSocket: string,
): Promise<FarKubeadm> {
  const at = (...path: string[]): string => join(shell.cwd, ...path);
  const read = async (file: string): Promise<AgDocument> => JSON.parse(await readFile(at(file), 'utf8')) as AgDocument;
  const kubeadmDocument = 'doc/kubeadm.json';
  const version = (await read(kubeadmDocument)).kubeadm!.kubernetesVersion;
  const cluster = at('kubeadm-double', 'cluster');
  const programs = (node: 'cp' | 'worker'): string[] => ['--kubeadm', at('kubeadm-double', node, 'kubeadm'), '--kubectl', at('kubeadm-double', 'kubectl')];
  await stages.run('far', 'kubeadm double and kubectl stand-in', async () => {
    await mkdir(cluster, { recursive: true });
    for (const [node, name] of [['cp', 'ag-far'], ['worker', 'ag-far-w1']] as const) {
      await writeKubeadmDouble(at('kubeadm-double', node, 'kubeadm'), { version, root: at(ROOTS[node]), cluster, hostname: name, standalone: true });
      // kubeadm and ctr look for containerd's socket at the usual place in the node's tree
      // (never through a var/run -> /run link onto this machine's own /run).
      if ((await lstat(at(ROOTS[node], 'var/run')).catch(() => undefined))?.isSymbolicLink()) throw new Error(`${at(ROOTS[node], 'var/run')} is a symlink`);
      await mkdir(at(ROOTS[node], 'var/run/containerd'), { recursive: true });
      await symlink(containerdSocket, at(ROOTS[node], 'var/run/containerd/containerd.sock')).catch(() => undefined);
    }
    await writeFile(at('kubeadm-double', 'kubectl'), `#!/bin/sh\n${kubectlStandIn(cluster)}`);
    await chmod(at('kubeadm-double', 'kubectl'), 0o755);
    // The worker is another node prepared the same way: ag-nodeprep's containerd config.
    await mkdir(at(ROOTS.worker, 'etc/containerd'), { recursive: true });
    await copyFile(at(ROOTS.cp, 'etc/containerd/config.toml'), at(ROOTS.worker, 'etc/containerd/config.toml'));
    shell.reporter.note('kubeadm cannot run here: ag-kubeadm runs the test kit\'s kubeadm double of the carried release, with a kubectl stand-in');
  });
  await stages.run('far', 'ag-kubeadm preflight', () =>
    shell.run(tool('ag-kubeadm', ['preflight', '--root', ROOTS.cp, ...programs('cp')], { stdin: kubeadmDocument, stdout: 'doc/preflight.json' })),
  );
  await stages.run('far', 'ag-kubeadm init', () =>
    shell.run(tool('ag-kubeadm', ['init', '--root', ROOTS.cp, ...programs('cp')], { stdin: 'doc/preflight.json', stdout: 'doc/init.json' })),
  );
  await stages.run('far', 'ag-kubeadm join', () =>
    shell.run(
      tool(
        'ag-kubeadm',
        ['join', '--root', ROOTS.worker, '--token-file', at(ROOTS.cp, 'etc/kubernetes/ag/join-token'), '--node-name', 'ag-far-w1', '--advertise-address', '127.0.0.2', ...programs('worker')],
        { stdin: 'doc/init.json', stdout: 'doc/joined.json' },
      ),
    ),
  );
  return { preflight: await read('doc/preflight.json'), initialised: await read('doc/init.json'), joined: await read('doc/joined.json') };
}
