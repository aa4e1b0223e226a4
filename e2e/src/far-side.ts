import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { hostArchitecture, type AgDocument } from '@ag/core';
import { startContainerd, type PrivateContainerd } from '@ag/fixtures';
import { FAR_REGISTRY_NAME } from './gap.js';
import { adaptContainerdConfig, writeFarRoot } from './far-root.js';
import type { Command, CommandResult, Shell } from './shell.js';
import type { Stages } from './stages.js';
import { CLUSTER } from './connected-side.js';
import { STEP_SCRIPTS } from './tools.js';
import { runFarKubeadm, type FarKubeadm } from './far-kubeadm.js';

/** The bundle and the trust anchor, as the far side finds them (paths relative to the far side's directory). */
export const CARRIED_BUNDLE = 'carry/bundle.tar';
export const TRUST_ANCHOR = 'trust/ag-bundle.pub.pem';
/** Where the internal registry listens on the far side, and the name clients use. */
export const FAR_REGISTRY_LISTEN = '127.0.0.1:5000';
export const FAR_REGISTRY_ENDPOINT = `${FAR_REGISTRY_NAME}:5000`;
/** The far side is this machine: the executable of its architecture runs there. */
export const FAR_ARCH = hostArchitecture();
const FAR_BOOTSTRAP = join(STEP_SCRIPTS, 'far-bootstrap.sh');

export interface FarResult {
  /** What `command -v node nodejs` found on the far side (nothing, when the mount namespace hides them). */
  nodeFound: string;
  /** `ag-bundle --version` on the far side: the Node.js built into the executable. */
  toolVersion: string;
  unpacked: AgDocument;
  pushed: AgDocument;
  kubeadm: AgDocument;
  flannel: AgDocument;
  /** What the podinfo stand-in printed when containerd ran it. */
  podinfoOutput: string;
  /** Every image kubeadm's configuration and flannel's manifest name, each pulled by containerd through the mirrors. */
  clusterImages: string[];
  /** The internal registry's repositories (ag-registry status). */
  repositories: number | undefined;
  /** With the site's registry: the bundle's images ag-registry status found there. */
  imagesThere?: number;
  /** The containerd config the node got from ag-nodeprep (as written under the node's root). */
  containerdConfig: string;
  /** ag-kubeadm preflight, init and join against the kit's kubeadm double. */
  kubeadmRun: FarKubeadm;
}

/** Things to undo at the end, last first. */
export type Cleanups = Array<() => Promise<unknown>>;

/** A registry the site runs, used instead of ag-registry up: where, and its CA and account as the site hands them out (far-side paths). */
export interface SiteRegistry {
  /** `HOST[:PORT][/PREFIX]`. */
  target: string;
  caFile: string;
  credentialsFile: string;
}

/** Image references in a Kubernetes manifest (every `image:` of every document). */
export function manifestImages(text: string): string[] {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'image' && typeof value === 'string') found.add(value);
        else walk(value);
      }
    }
  };
  for (const document of parseAllDocuments(text)) walk(document.toJS());
  return [...found];
}

/** A tool of the unpacked bundle (or of `from`): the bundle's single executable, told which tool to be. */
export function farTool(name: string, args: string[], extra: Partial<Command> = {}, from = 'bundle/tools'): Command {
  return { argv: [`${from}/${FAR_ARCH}/ag`, name, ...args], display: [name, ...args].join(' '), ...extra };
}

/** The far node's containerd: its directory (root, state, socket) under the far side's. */
const CONTAINERD_DIR = 'ctrd';
const CERTS_DIR = 'root/etc/containerd/certs.d';

function ctr(shell: Shell, args: string[]): Command {
  return { argv: ['ctr', '--address', join(shell.cwd, CONTAINERD_DIR, 'containerd.sock'), ...args], display: ['ctr', ...args].join(' ') };
}

/** containerd pulls an image by its upstream name, through the certs.d mirrors ag-registry trust wrote (ctr pulls client-side: run in the far namespace). */
export function pullByUpstreamName(shell: Shell, ref: string, containerdNamespace = 'k8s.io'): Promise<CommandResult> {
  return shell.run(ctr(shell, ['-n', containerdNamespace, 'images', 'pull', '--hosts-dir', CERTS_DIR, '--platform', `linux/${CLUSTER.arch}`, ref]));
}

export const json = async (shell: Shell, file: string): Promise<AgDocument> => JSON.parse(await readFile(join(shell.cwd, file), 'utf8')) as AgDocument;

/**
 * The far side, from nothing but the carried bundle (and the signing key's
 * public half, provisioned once before the first trip):
 *
 * 0. the far side has no Node.js: every command runs in a mount namespace
 *    where this machine's node is gone (no-node.ts), and `command -v node`
 *    finds nothing there;
 * 1. bootstrap with tar, coreutils and openssl (e2e/vagrant/steps/far-bootstrap.sh,
 *    as run.sh runs it): take SHA256SUMS, its signature and the single
 *    executable tools/<arch>/ag out of the tar, check the signature and the
 *    executable's sum, then run it as ag-bundle to verify the bundle;
 * 2. `ag-bundle unpack` with that ag-bundle;
 * 3. everything else with the executable unpacked from the bundle: ag-nodeprep
 *    apply --root, ag-registry up (distribution, the binary from the
 *    bundle's registry image) and trust, ag-images push;
 * 4. containerd, configured as ag-nodeprep configured it, pulls and runs by
 *    upstream names through the certs.d mirrors;
 * 5. ag-kubeadm config and ag-flannel render, and containerd pulls every
 *    image they name;
 * 6. ag-kubeadm preflight, init and join (far-kubeadm.ts: kubeadm is the
 *    test kit's kubeadm double).
 */
export async function runFarSide(shell: Shell, stages: Stages, cleanups: Cleanups, farNamespace: string, site?: SiteRegistry): Promise<FarResult> {

  const nodeFound = await stages.run('far', 'no Node.js here: command -v node nodejs', async () => {
    const { stdout } = await shell.run({ argv: ['sh', '-c', 'for n in node nodejs; do command -v "$n"; done; true'], display: 'command -v node nodejs' });
    return stdout.trim();
  });
  await stages.run('far', 'bootstrap: openssl, sha256sum, ag-bundle verify', async () => {
    await mkdir(join(shell.cwd, 'doc'), { recursive: true });
    // The same script run.sh runs on the air-gapped VMs.
    await shell.run({ argv: ['sh', FAR_BOOTSTRAP, CARRIED_BUNDLE, TRUST_ANCHOR, '.'], display: `sh far-bootstrap.sh ${CARRIED_BUNDLE} ${TRUST_ANCHOR} .`, stdout: 'doc/verified.json' });
  });
  const toolVersion = (await shell.run({ argv: [`boot/tools/${FAR_ARCH}/ag-bundle`, '--version'], display: 'ag-bundle --version' })).stdout.trim();
  await stages.run('far', 'ag-bundle unpack', () =>
    shell.run({ argv: [`boot/tools/${FAR_ARCH}/ag-bundle`, 'unpack', CARRIED_BUNDLE, '--dir', 'bundle', '--key', TRUST_ANCHOR], display: `ag-bundle unpack ${CARRIED_BUNDLE} --dir bundle --key ${TRUST_ANCHOR}`, stdout: 'doc/unpacked.json' }),
  );

  await stages.run('far', 'ag-nodeprep apply --root', async () => {
    await writeFarRoot(join(shell.cwd, 'root'));
    // The demo carries no OS packages (download --no-os-packages) and the stand-in root has no dpkg database: the packages step would be a blocker.
    return shell.run(farTool('ag-nodeprep', ['apply', '--root', 'root', '--cgroup-driver', 'cgroupfs', '--skip', 'packages'], { stdin: 'doc/unpacked.json', stdout: 'doc/node.json' }));
  });

  if (site === undefined) {
    cleanups.push(() => shell.run(farTool('ag-registry', ['down', '--state-dir', 'registry'])).catch(() => undefined));
    await stages.run('far', 'ag-registry up (distribution)', () =>
      shell.run(
        farTool(
          'ag-registry',
          ['up', '--state-dir', 'registry', '--mode', 'distribution', '--init', 'process', '--listen', FAR_REGISTRY_LISTEN, '--host', FAR_REGISTRY_NAME, '--endpoint', FAR_REGISTRY_ENDPOINT],
          { stdin: 'doc/node.json', stdout: 'doc/registry.json' },
        ),
      ),
    );
    await stages.run('far', 'ag-registry trust --root', () => shell.run(farTool('ag-registry', ['trust', '--root', 'root'], { stdin: 'doc/registry.json', stdout: 'doc/trusted.json' })));
  } else {
    // The site's registry is already there: no ag-registry up; trust records it in the document for every later stage.
    await stages.run('far', `ag-registry trust --root --registry ${site.target}`, () =>
      shell.run(farTool('ag-registry', ['trust', '--root', 'root', '--registry', site.target, '--ca-file', site.caFile, '--credentials-file', site.credentialsFile], { stdin: 'doc/node.json', stdout: 'doc/trusted.json' })),
    );
  }
  await stages.run('far', 'ag-images push', () => shell.run(farTool('ag-images', ['push'], { stdin: 'doc/trusted.json', stdout: 'doc/pushed.json' })));

  const containerdConfig = await readFile(join(shell.cwd, 'root', 'etc', 'containerd', 'config.toml'), 'utf8');
  const dir = join(shell.cwd, CONTAINERD_DIR);
  let podinfoOutput = '';
  await stages.run('far', 'containerd: pull and run podinfo', async () => {
    await mkdir(dir, { recursive: true });
    const config = adaptContainerdConfig(containerdConfig, dir, join(shell.cwd, CERTS_DIR));
    await writeFile(join(shell.cwd, 'containerd.toml'), config);
    shell.reporter.command(`nsenter --net=/run/netns/${farNamespace} containerd --config containerd.toml   # ag-nodeprep's config.toml; only root, state, sockets and config_path moved here`);
    // nsenter --net, not ip netns exec: the latter mounts a fresh /sys, without the cgroup hierarchy runc needs.
    const containerd: PrivateContainerd = await startContainerd({ config, dir, prefix: ['nsenter', `--net=/run/netns/${farNamespace}`] });
    cleanups.push(() => containerd.stop());
    await pullByUpstreamName(shell, 'registry.k8s.io/pause:3.9');
    await pullByUpstreamName(shell, CLUSTER.appImage, 'default');
    podinfoOutput = (await shell.run(ctr(shell, ['run', '--rm', CLUSTER.appImage, `podinfo-${process.pid}`]))).stdout;
    shell.reporter.note(`podinfo printed: ${podinfoOutput.trim()}`);
  });

  await stages.run('far', 'ag-kubeadm config', () =>
    shell.run(
      farTool('ag-kubeadm', ['config', '--single-node', '--advertise-address', '127.0.0.1', '--node-name', 'ag-far', '--root', 'root'], {
        stdin: 'doc/pushed.json',
        stdout: 'doc/kubeadm.json',
      }),
    ),
  );
  // With the site's registry, kubeadm keeps upstream names (the prefixed mirrors serve them, and ag-nodeprep's sandbox
  // image stays kubeadm's), while flannel's manifest names its images in that registry, under the prefix.
  await stages.run('far', 'ag-flannel render', () => shell.run(farTool('ag-flannel', ['render', ...(site ? ['--registry', 'internal'] : [])], { stdin: 'doc/kubeadm.json', stdout: 'doc/flannel.json' })));

  const kubeadm = await json(shell, 'doc/kubeadm.json');
  const flannel = await json(shell, 'doc/flannel.json');
  const manifest = await readFile(join(shell.cwd, 'bundle', flannel.flannel!.manifest), 'utf8');
  const clusterImages = [...new Set([...kubeadm.kubeadm!.images.map((i) => i.ref), ...manifestImages(manifest)])];
  await stages.run('far', 'containerd: pull the cluster images', async () => {
    for (const ref of clusterImages) await pullByUpstreamName(shell, ref);
  });
  const kubeadmRun = await runFarKubeadm(shell, stages, farTool, join(dir, 'containerd.sock'));
  await stages.run('far', 'ag-registry status', () =>
    shell.run(site ? farTool('ag-registry', ['status'], { stdin: 'doc/pushed.json', stdout: 'doc/status.json' }) : farTool('ag-registry', ['status', '--state-dir', 'registry'], { stdout: 'doc/status.json' })),
  );
  const status = (await json(shell, 'doc/status.json')).registry?.status;
  return {
    nodeFound,
    toolVersion,
    unpacked: await json(shell, 'doc/unpacked.json'),
    pushed: await json(shell, 'doc/pushed.json'),
    kubeadm,
    flannel,
    podinfoOutput,
    clusterImages,
    repositories: status?.repositories,
    ...(status?.images ? { imagesThere: status.images.present } : {}),
    containerdConfig,
    kubeadmRun,
  };
}
