import { MissingError, VerificationError, type AgDocument, type KubeadmPreflightCheck, type KubeadmSection } from '@ag/core';
import type { Runner } from './context.js';
import { readSandboxSetting } from './containerd-sandbox.js';
import { PATHS } from './host.js';
import { cgroupVersion, containerdRelease, versionSkew } from './node-checks.js';
import { locateImages, safeNormalize } from './image-locations.js';
import { parseKubernetesVersion } from './version.js';

export type PreflightResult = NonNullable<KubeadmSection['preflight']>;


/** The installed kubeadm's version (`kubeadm version -o short`), or undefined when kubeadm is not installed yet. */
export async function installedKubeadmVersion(runner: Runner): Promise<string | undefined> {
  try {
    return (await runner.run('kubeadm', ['version', '-o', 'short'], { streamStderr: false })).stdout.trim();
  } catch (error) {
    if (error instanceof MissingError) return undefined;
    throw error;
  }
}

// klog warnings kubeadm prints when it reads a configuration it only half understands
// (cmd/kubeadm/app/util/config: strict decoding errors, unknown or ignored kinds, deprecated API versions).
const CONFIG_WARNING = /^W\d{4} .*(error unmarshaling configuration|unknown configuration|Ignored configuration document|deprecated API spec).*$/gm;

/**
 * The images kubeadm will ask for, from kubeadm itself when it is installed
 * (`kubeadm config images list --config FILE`: the authority, it knows its own
 * defaults), else as computed from the document. A difference is logged:
 * it means the carried component versions and this kubeadm disagree. A
 * warning about the configuration on the way is an error: kubeadm would
 * ignore part of what the file says.
 */
export async function imagesKubeadmWants(runner: Runner, section: KubeadmSection, kubeadmVersion: string | undefined): Promise<string[]> {
  const computed = section.images.map((i) => i.ref);
  if (kubeadmVersion === undefined) {
    runner.log.warn('kubeadm is not installed yet: checking the images computed from the document');
    return computed;
  }
  const result = await runner.run('kubeadm', ['config', 'images', 'list', '--config', runner.path(section.configFile)], { streamStderr: false });
  const warnings = result.stderr.match(CONFIG_WARNING) ?? [];
  if (warnings.length > 0) {
    throw new VerificationError(`kubeadm ${kubeadmVersion} does not fully accept ${section.configFile}:\n${warnings.join('\n')}`, {
      hint: `the configuration was written for Kubernetes ${section.kubernetesVersion}; install that release's kubeadm, or run ag-kubeadm config again`,
    });
  }
  const listed = result.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^[IWE]\d{4} /.test(l)); // klog lines, should any reach stdout
  const extra = listed.filter((ref) => !computed.includes(ref));
  if (extra.length > 0) {
    runner.log.warn(`kubeadm asks for ${extra.join(', ')}, which the document's fetch.components did not predict; checking kubeadm's list`);
  }
  return listed;
}

/** `kubeadm config validate` (1.28+, kubernetes/kubernetes PR #118013) decodes strictly: an unknown field or kind fails it. */
async function kubeadmValidates(runner: Runner, section: KubeadmSection, kubeadmVersion: string | undefined): Promise<KubeadmPreflightCheck> {
  if (kubeadmVersion === undefined) return { name: 'kubeadm-config', result: 'skipped', detail: 'kubeadm is not installed yet' };
  if (parseKubernetesVersion(kubeadmVersion).minor < 28) {
    return { name: 'kubeadm-config', result: 'ok', detail: `kubeadm ${kubeadmVersion} read ${section.configFile} without a warning (it has no config validate)` };
  }
  const file = runner.path(section.configFile);
  const result = await runner.run('kubeadm', ['config', 'validate', '--config', file], { allowFailure: true, streamStderr: false });
  if (result.exitCode !== 0) {
    throw new VerificationError(`kubeadm ${kubeadmVersion} refuses ${section.configFile}: ${result.stderr.trim().split('\n')[0]}`, {
      hint: `the configuration was written for Kubernetes ${section.kubernetesVersion}; install that release's kubeadm, or run ag-kubeadm config again`,
    });
  }
  return { name: 'kubeadm-config', result: 'ok', detail: `kubeadm ${kubeadmVersion} config validate accepts ${section.configFile}` };
}

/**
 * What a preflight is for. `init` (and the `preflight` verb) checks the
 * configuration file kubeadm init will read. A join has no such file: only
 * the first control plane has it, and kubeadm's own join preflight
 * (cmd/kubeadm/app/cmd/phases/join/preflight.go) runs the node checks, then
 * for a control-plane join checks that the cluster has a control-plane
 * endpoint and that the certificate key is given, and pulls the images of
 * the cluster's ClusterConfiguration, which the document's images are.
 */
export type PreflightScope = { kind: 'init' } | { kind: 'join'; controlPlane: boolean; images: string[] };

/** checkIfReadyForAdditionalControlPlane (join/preflight.go): join.ts refuses earlier if either is missing; recorded here. */
function readyForAnotherControlPlane(section: KubeadmSection): KubeadmPreflightCheck {
  return {
    name: 'control-plane-join',
    result: 'ok',
    detail: `the cluster has the control-plane endpoint ${section.controlPlaneEndpoint ?? '(none)'} and a certificate key is given`,
  };
}

/** Version skew, the containerd release and cgroup v2 (node-checks.ts); then the scope's own check. */
async function nodeChecks(document: AgDocument, section: KubeadmSection, runner: Runner, kubeadmVersion: string | undefined, scope: PreflightScope): Promise<KubeadmPreflightCheck[]> {
  const version = parseKubernetesVersion(section.kubernetesVersion);
  const checks = [versionSkew(document, version, kubeadmVersion), await containerdRelease(document, version, runner), await cgroupVersion(runner, version)];
  if (scope.kind === 'init') checks.push(await kubeadmValidates(runner, section, kubeadmVersion));
  else if (scope.controlPlane) checks.push(readyForAnotherControlPlane(section));
  for (const check of checks.filter((c) => c.result === 'warning')) runner.log.warn(`${check.name}: ${check.detail}`);
  return checks;
}

/**
 * Before kubeadm runs: the bundle's kubeadm, kubelet and kubectl fit the
 * version skew policy (exit 3), the node's containerd release supports this
 * Kubernetes minor and the host's cgroup version is one its kubelet starts
 * on (exit 6), for init kubeadm accepts the configuration file (exit 3),
 * every image kubeadm will ask for is in containerd's k8s.io namespace or in
 * the internal registry, and containerd's sandbox image is the pause image
 * kubeadm expects. Every missing image is named in one error (exit 5); a
 * sandbox mismatch is a verification error (exit 3). A join (PreflightScope)
 * reads no configuration file: it checks the images it is given.
 */
export async function preflight(document: AgDocument, section: KubeadmSection, runner: Runner, scope: PreflightScope = { kind: 'init' }): Promise<PreflightResult> {
  const kubeadmVersion = await installedKubeadmVersion(runner);
  const checks = await nodeChecks(document, section, runner, kubeadmVersion, scope);
  const wanted = scope.kind === 'join' ? scope.images : await imagesKubeadmWants(runner, section, kubeadmVersion);
  const problems: string[] = [];

  const sandbox = await readSandboxSetting(runner.path(PATHS.containerdConfig));
  if (sandbox === undefined) {
    problems.push(`containerd has no config at ${PATHS.containerdConfig}, so its built-in sandbox image is used instead of ${section.sandboxImage}`);
  } else if (sandbox.image === undefined) {
    problems.push(`containerd's config sets no ${sandbox.key}, so its built-in default is used instead of ${section.sandboxImage}`);
  } else if (safeNormalize(sandbox.image) !== safeNormalize(section.sandboxImage)) {
    problems.push(`containerd's ${sandbox.key} is ${sandbox.image}, but kubeadm's pause image is ${section.sandboxImage}`);
  }
  if (problems.length > 0) {
    throw new VerificationError(problems.join('; '), {
      hint: `run ag-nodeprep apply with this document (it sets the sandbox image to kubeadm.sandboxImage = ${section.sandboxImage}) and restart containerd`,
    });
  }

  const found = await locateImages(document, runner, section.node.criSocket, wanted, {
    what: 'kubeadm will ask for',
    hint: 'carry them (ag-fetch plan must list them), then ag-images push; or fix fetch.components if the versions are wrong',
  });
  return { checkedAt: new Date().toISOString(), images: found, containerdSandboxImage: sandbox!.image, checks };
}
