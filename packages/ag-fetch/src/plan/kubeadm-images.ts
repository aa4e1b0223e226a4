import { AgError, downloadFile, ExternalError, progressCallback, runProgram, sha256File, type FileArtifact, type Logger, type Progress } from '@ag/core';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import type { Architecture } from './request.js';

/** This host's architecture in Go/Kubernetes terms, when kubeadm is published for it. */
export function hostArchitecture(): Architecture | undefined {
  const map: Record<string, Architecture> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  return process.platform === 'linux' ? map[process.arch] : undefined;
}

/** `kubeadm version -o short`, or undefined when it does not run here. */
export async function kubeadmVersion(kubeadm: string): Promise<string | undefined> {
  const result = await runProgram(kubeadm, ['version', '-o', 'short'], { env: kubeadmEnv(), timeoutMs: 30_000, allowFailure: true }).catch(() => undefined);
  return result === undefined || result.exitCode !== 0 ? undefined : result.stdout.trim();
}

/** kubeadm runs with PATH alone: it reads no configuration of ours. */
function kubeadmEnv(): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
}

/** Runs `kubeadm config images list --kubernetes-version V -o json` and returns the list. */
export async function runKubeadmImagesList(kubeadm: string, kubernetesVersion: string): Promise<string[]> {
  const args = ['config', 'images', 'list', '--kubernetes-version', kubernetesVersion, '-o', 'json'];
  // Through runProgram (execa): a failure names the command and the tail of what kubeadm said, a missing kubeadm is exit 5.
  const { stdout } = await runProgram(kubeadm, args, { env: kubeadmEnv(), timeoutMs: 60_000 });
  let parsed: unknown;
  try {
    // kubeadm may print warnings before the JSON object.
    parsed = JSON.parse(stdout.slice(stdout.indexOf('{')));
  } catch {
    throw new ExternalError(`${kubeadm} config images list printed no JSON: ${stdout.slice(0, 200)}`);
  }
  const images = (parsed as { images?: unknown }).images;
  if (!Array.isArray(images) || images.length === 0 || !images.every((i) => typeof i === 'string')) {
    throw new ExternalError(`${kubeadm} config images list: no "images" array in its output`);
  }
  return images as string[];
}

export interface KubeadmSource {
  /** The kubeadm file to run. */
  path: string;
  /** How it was obtained, for the document. */
  detail: string;
  /** Call when done: removes a temporary copy. */
  release(): Promise<void>;
}

/**
 * Finds a kubeadm of the exact release that can run here: `--kubeadm PATH`,
 * the one already in the bundle (if it verifies), or, when the network is
 * allowed, a fresh download verified against dl.k8s.io's checksum (into the
 * bundle when the host's architecture is planned, so download reuses it;
 * into a temporary directory otherwise). Undefined when none can run here.
 */
export async function obtainKubeadm(options: {
  /** The release the image list is for. */
  version: string;
  explicit?: string | undefined;
  artifact: FileArtifact | undefined;
  bundlePath: string | undefined;
  online: boolean;
  dispatcher?: Dispatcher | undefined;
  log: Logger;
  progress: Progress;
}): Promise<KubeadmSource | { reason: string }> {
  const none = async (): Promise<void> => undefined;
  const artifact = options.artifact;
  if (options.explicit !== undefined) {
    const version = await kubeadmVersion(options.explicit);
    if (version !== options.version) {
      return { reason: `--kubeadm ${options.explicit} ${version === undefined ? 'does not run here' : `is ${version}, not ${options.version}`}` };
    }
    return { path: options.explicit, detail: `--kubeadm ${options.explicit}`, release: none };
  }
  if (artifact === undefined) return { reason: `no kubeadm is published for this host (${process.platform}/${process.arch})` };
  if (options.bundlePath !== undefined && existsSync(options.bundlePath)) {
    const actual = await sha256File(options.bundlePath);
    // Without a checksum to compare, at least make sure it is the same release (the path has no version in it).
    const usable = artifact.sha256 === undefined ? (await kubeadmVersion(options.bundlePath)) === options.version : actual.sha256 === artifact.sha256;
    if (usable) {
      return {
        path: options.bundlePath,
        detail: `${artifact.path} already in the bundle${artifact.sha256 === undefined ? ' (not verified: no checksum without network)' : ', verified'}`,
        release: none,
      };
    }
  }
  if (!options.online) return { reason: 'kubeadm is not in the bundle yet and --no-checksums forbids fetching it' };
  const temp = options.bundlePath === undefined ? await mkdtemp(join(tmpdir(), 'ag-fetch-kubeadm-')) : undefined;
  const dest = options.bundlePath ?? join(temp!, 'kubeadm');
  options.log.info(`fetching kubeadm ${artifact.version} (${artifact.arch}) to ask it for the control-plane images`);
  const task = options.progress.task(`kubeadm ${artifact.version} (${artifact.arch})`);
  try {
    await downloadFile({
      url: artifact.source.url,
      dest,
      sha256: artifact.sha256,
      mode: 0o755,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      onProgress: progressCallback(task),
    });
  } catch (error) {
    if (temp !== undefined) await rm(temp, { recursive: true, force: true });
    if (error instanceof AgError && error.kind === 'verification') throw error;
    return { reason: `fetching kubeadm failed: ${(error as Error).message}` };
  } finally {
    task.done();
  }
  return {
    path: dest,
    detail: temp === undefined ? `${artifact.path}, fetched and verified` : `a verified temporary copy of ${artifact.source.url}`,
    release: async () => {
      if (temp !== undefined) await rm(temp, { recursive: true, force: true });
    },
  };
}
