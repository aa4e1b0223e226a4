import { MissingError, normalizeReference, type AgDocument } from '@ag/core';
import type { Runner } from './context.js';
import { internalRegistry, type InternalRegistry } from './registry-check.js';

/** `unix:///var/run/containerd/containerd.sock` -> `/var/run/containerd/containerd.sock` */
function socketPath(criSocket: string): string {
  return criSocket.replace(/^unix:\/\//, '');
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

export function safeNormalize(ref: string): string {
  try {
    return normalizeReference(ref);
  } catch {
    return ref;
  }
}

export interface LocatedImage {
  ref: string;
  foundIn: 'containerd' | 'registry';
}

/**
 * Where each image is: containerd's k8s.io namespace on this node (ctr), else
 * the internal registry the document names (under its upstream host prefix),
 * opened only when containerd lacks an image.
 * Every image found nowhere is named in one MissingError (exit 5) saying
 * `what` needs them.
 */
export async function locateImages(
  document: AgDocument,
  runner: Runner,
  criSocket: string,
  refs: string[],
  message: { what: string; hint: string },
): Promise<LocatedImage[]> {
  const inContainerd = await containerdImages(runner, criSocket);
  // The registry is opened only for an image containerd lacks: a node that has them all needs neither its CA nor its credentials.
  let registry: InternalRegistry | undefined;
  let opened = false;
  const open = async (): Promise<InternalRegistry | undefined> => {
    if (!opened) registry = await internalRegistry(document.registry, (p) => runner.path(p), runner.env);
    opened = true;
    return registry;
  };
  const found: LocatedImage[] = [];
  const missing: string[] = [];
  try {
    for (const ref of refs) {
      if (inContainerd?.has(safeNormalize(ref))) found.push({ ref, foundIn: 'containerd' });
      else if ((await open()) !== undefined && (await registry!.has(ref))) found.push({ ref, foundIn: 'registry' });
      else missing.push(ref);
    }
  } finally {
    await registry?.close();
  }
  if (missing.length > 0) {
    const where = [inContainerd ? "containerd's k8s.io namespace" : undefined, registry ? `the internal registry ${registry.endpoint}` : undefined]
      .filter(Boolean)
      .join(' or ');
    throw new MissingError(`${message.what} ${missing.length} image(s) that are not in ${where || 'any place this node can see'}: ${missing.join(', ')}`, {
      hint: message.hint,
      details: { missing },
    });
  }
  return found;
}
