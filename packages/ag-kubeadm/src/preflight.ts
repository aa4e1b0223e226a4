import { MissingError, normalizeReference, VerificationError, type AgDocument, type KubeadmSection } from '@ag/core';
import type { Runner } from './context.js';
import { readSandboxSetting } from './containerd-sandbox.js';
import { PATHS } from './host.js';
import { internalRegistry } from './registry-check.js';

export type PreflightResult = NonNullable<KubeadmSection['preflight']>;

/** `unix:///var/run/containerd/containerd.sock` -> `/var/run/containerd/containerd.sock` */
function socketPath(criSocket: string): string {
  return criSocket.replace(/^unix:\/\//, '');
}

/**
 * The images kubeadm will ask for, from kubeadm itself when it is installed
 * (`kubeadm config images list --config FILE`: the authority, it knows its own
 * defaults), else as computed from the document. A difference is logged:
 * it means the carried component versions and this kubeadm disagree.
 */
export async function imagesKubeadmWants(runner: Runner, section: KubeadmSection): Promise<string[]> {
  const computed = section.images.map((i) => i.ref);
  let listed: string[];
  try {
    const result = await runner.run('kubeadm', ['config', 'images', 'list', '--config', runner.path(section.configFile)], { streamStderr: false });
    listed = result.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^[IWE]\d{4} /.test(l)); // klog lines, should any reach stdout
  } catch (error) {
    if (!(error instanceof MissingError)) throw error;
    runner.log.warn('kubeadm is not installed yet: checking the images computed from the document');
    return computed;
  }
  const extra = listed.filter((ref) => !computed.includes(ref));
  if (extra.length > 0) {
    runner.log.warn(`kubeadm asks for ${extra.join(', ')}, which the document's fetch.components did not predict; checking kubeadm's list`);
  }
  return listed;
}

async function containerdImages(runner: Runner, criSocket: string): Promise<Set<string> | undefined> {
  try {
    const result = await runner.run('ctr', ['-a', runner.path(socketPath(criSocket)), '-n', 'k8s.io', 'images', 'ls', '-q'], {
      allowFailure: true,
      streamStderr: false,
    });
    if (result.exitCode !== 0) {
      runner.log.debug(`containerd did not list its images: ${result.stderr.trim()}`);
      return undefined;
    }
    return new Set(result.stdout.split('\n').map((l) => l.trim()).filter(Boolean).map((r) => safeNormalize(r)));
  } catch (error) {
    if (error instanceof MissingError) return undefined;
    throw error;
  }
}

function safeNormalize(ref: string): string {
  try {
    return normalizeReference(ref);
  } catch {
    return ref;
  }
}

/**
 * Before kubeadm runs: every image it will ask for is in containerd's k8s.io
 * namespace or in the internal registry, and containerd's sandbox image is the
 * pause image kubeadm expects. Every missing image is named in one error
 * (exit 5); a sandbox mismatch is a verification error (exit 3).
 */
export async function preflight(document: AgDocument, section: KubeadmSection, runner: Runner, images?: string[]): Promise<PreflightResult> {
  const wanted = images ?? (await imagesKubeadmWants(runner, section));
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

  const inContainerd = await containerdImages(runner, section.node.criSocket);
  const registry = await internalRegistry(document.registry, (p) => runner.path(p), runner.env);
  const found: PreflightResult['images'] = [];
  const missing: string[] = [];
  try {
    for (const ref of wanted) {
      if (inContainerd?.has(safeNormalize(ref))) {
        found.push({ ref, foundIn: 'containerd' });
      } else if (registry !== undefined && (await registry.has(ref))) {
        found.push({ ref, foundIn: 'registry' });
      } else missing.push(ref);
    }
  } finally {
    await registry?.close();
  }
  if (missing.length > 0) {
    const where = [inContainerd ? "containerd's k8s.io namespace" : undefined, registry ? `the internal registry ${registry.endpoint}` : undefined]
      .filter(Boolean)
      .join(' or ');
    throw new MissingError(`kubeadm will ask for ${missing.length} image(s) that are not in ${where || 'any place this node can see'}: ${missing.join(', ')}`, {
      hint: 'carry them (ag-fetch plan must list them), then ag-images push; or fix fetch.components if the versions are wrong',
      details: { missing },
    });
  }
  return { checkedAt: new Date().toISOString(), images: found, containerdSandboxImage: sandbox!.image };
}
