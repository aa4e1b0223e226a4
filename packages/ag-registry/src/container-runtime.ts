import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { create as createTar } from 'tar';
import { ExternalError, formatCommand, runProgram, type Descriptor, type Io, type OciLayout } from '@ag/core';
import { platformManifest } from './layout-reader.js';
import { DEFAULT_CONTAINERD_ADDRESS, DEFAULT_NAMESPACE } from './defaults.js';
import { SERVICE_NAME } from './paths.js';
import type { RegistryImage } from './registry-image.js';

export type ContainerRuntime = 'containerd' | 'docker' | 'podman';

/** Where a container runtime is and which containerd namespace holds ag's container. */
export interface RuntimeTarget {
  runtime: ContainerRuntime;
  /** containerd: the gRPC socket. */
  address?: string;
  /** containerd: the namespace (default `ag`, apart from Kubernetes' `k8s.io`). */
  namespace?: string;
  /** The program (ctr, docker, podman) if not on PATH. */
  program?: string;
}

export { DEFAULT_CONTAINERD_ADDRESS, DEFAULT_NAMESPACE } from './defaults.js';

/** What a container mode runs: the registry image with the host's registry directory mounted at the same path. */
export interface ContainerSpec {
  image: string;
  /** The registry binary's path inside the image. */
  binary: string;
  configFile: string;
  /** Mounted read-write at the same path, so config.yml's paths hold inside and out. */
  dir: string;
  logFile: string;
}

function program(target: RuntimeTarget): string {
  return target.program ?? (target.runtime === 'containerd' ? 'ctr' : target.runtime);
}

function ctrGlobal(target: RuntimeTarget): string[] {
  return ['--address', target.address ?? DEFAULT_CONTAINERD_ADDRESS, '--namespace', target.namespace ?? DEFAULT_NAMESPACE];
}

/** The argv that starts the registry container (host network, restarted by the runtime). */
export function runCommand(target: RuntimeTarget, spec: ContainerSpec): string[] {
  const serve = ['serve', spec.configFile];
  if (target.runtime === 'containerd') {
    return [
      program(target),
      ...ctrGlobal(target),
      'run',
      '--detach',
      '--net-host',
      '--mount',
      `type=bind,src=${spec.dir},dst=${spec.dir},options=rbind:rw`,
      // containerd's restart monitor (io.containerd.internal.v1.restart in 1.x, io.containerd.monitor.container.v1.restart
      // in 2.x; on by default in both) restarts tasks carrying this label, every 10 s by default.
      '--label',
      'containerd.io/restart.status=running',
      '--label',
      `containerd.io/restart.loguri=file://${spec.logFile}`,
      '--log-uri',
      `file://${spec.logFile}`,
      spec.image,
      SERVICE_NAME,
      spec.binary,
      ...serve,
    ];
  }
  const volume = target.runtime === 'podman' ? `${spec.dir}:${spec.dir}:Z` : `${spec.dir}:${spec.dir}`;
  return [
    program(target),
    'run',
    '--detach',
    '--name',
    SERVICE_NAME,
    '--restart',
    'always',
    '--network',
    'host',
    '--volume',
    volume,
    '--entrypoint',
    spec.binary,
    spec.image,
    ...serve,
  ];
}

/** The command an operator runs to stop it by hand (for the document; `ag-registry down` does more). */
export function stopCommand(target: RuntimeTarget): string {
  if (target.runtime === 'containerd') return formatCommand(program(target), [...ctrGlobal(target), 'task', 'kill', SERVICE_NAME]);
  return formatCommand(program(target), ['rm', '--force', SERVICE_NAME]);
}

/**
 * Streams the registry image out of the layout as one tar that every runtime
 * loads: an OCI layout (index.json with the image's name, for `ctr images
 * import`) that is also a docker-archive (manifest.json with RepoTags, for
 * `docker load` and `podman load`), the way `docker save` has written it
 * since Docker 25. Only this image's blobs for this host's platform go in;
 * they are read from the layout through symlinks, never copied to disk.
 */
async function imageArchiveDir(layout: OciLayout, image: RegistryImage, tempRoot: string): Promise<{ dir: string; manifest: Descriptor }> {
  const { descriptor, manifest } = await platformManifest(layout, image.descriptor);
  const dir = await mkdtemp(join(tempRoot, 'image-'));
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const top: Descriptor = {
    mediaType: descriptor.mediaType,
    digest: descriptor.digest,
    size: descriptor.size,
    annotations: { 'io.containerd.image.name': image.ref, 'org.opencontainers.image.ref.name': image.ref },
  };
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [top] }));
  const hex = (digest: string) => digest.slice('sha256:'.length);
  await writeFile(
    join(dir, 'manifest.json'),
    JSON.stringify([
      {
        Config: `blobs/sha256/${hex(manifest.config.digest)}`,
        RepoTags: [image.ref.replace(/@sha256:[a-f0-9]+$/, '')],
        Layers: manifest.layers.map((layer) => `blobs/sha256/${hex(layer.digest)}`),
      },
    ]),
  );
  for (const blob of [descriptor, manifest.config, ...manifest.layers]) {
    await symlink(layout.blobPath(blob.digest), join(dir, 'blobs', 'sha256', hex(blob.digest))).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  return { dir, manifest: descriptor };
}

/**
 * Pipes a tar of `dir` (symlinks followed) into `argv`'s stdin, through
 * runProgram (execa): what the runtime says goes to our stderr, never our
 * stdout; a failure names the command and the tail of what it said; a
 * missing runtime is exit 5; the runtime is ended with us when interrupted.
 */
async function pipeTarInto(dir: string, argv: string[], io: Pick<Io, 'env' | 'stderr'>): Promise<void> {
  const tar = Readable.from(createTar({ cwd: dir, follow: true, portable: true, noMtime: true }, ['oci-layout', 'index.json', 'manifest.json', 'blobs']));
  await runProgram(argv[0]!, argv.slice(1), { env: io.env, stderr: io.stderr, input: tar });
}

/** Loads the registry image from the layout into the runtime; returns the manifest digest it runs. */
export async function loadImage(target: RuntimeTarget, layout: OciLayout, image: RegistryImage, tempRoot: string, io: Pick<Io, 'env' | 'stderr'>): Promise<string> {
  const { dir, manifest } = await imageArchiveDir(layout, image, tempRoot);
  try {
    const argv =
      target.runtime === 'containerd'
        ? [program(target), ...ctrGlobal(target), 'images', 'import', '-']
        : [program(target), 'load'];
    await pipeTarInto(dir, argv, io);
    return manifest.digest;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Starts the registry container (after removing a stopped leftover of the same name). */
export async function startContainer(target: RuntimeTarget, spec: ContainerSpec, io: Pick<Io, 'env' | 'stderr'>): Promise<void> {
  await removeContainer(target, io);
  const [bin, ...args] = runCommand(target, spec);
  await runProgram(bin!, args, { env: io.env, stderr: io.stderr, hint: `see ${spec.logFile} and the runtime's own log` });
}

/** Whether the registry container runs now. */
export async function containerRunning(target: RuntimeTarget, io: Pick<Io, 'env' | 'stderr'>): Promise<boolean> {
  if (target.runtime === 'containerd') {
    const result = await runProgram(program(target), [...ctrGlobal(target), 'tasks', 'ls'], {
      env: io.env,
      stderr: io.stderr,
      allowFailure: true,
      streamStderr: false,
    }).catch(() => undefined);
    return (result?.stdout ?? '').split('\n').some((line) => {
      const [name, , status] = line.trim().split(/\s+/);
      return name === SERVICE_NAME && status === 'RUNNING';
    });
  }
  const result = await runProgram(program(target), ['inspect', '--format', '{{.State.Running}}', SERVICE_NAME], {
    env: io.env,
    stderr: io.stderr,
    allowFailure: true,
    streamStderr: false,
  }).catch(() => undefined);
  return result?.exitCode === 0 && result.stdout.trim() === 'true';
}

/** Stops and removes the registry container; returns whether there was one. */
export async function removeContainer(target: RuntimeTarget, io: Pick<Io, 'env' | 'stderr'>): Promise<boolean> {
  const quiet = { env: io.env, stderr: io.stderr, allowFailure: true, streamStderr: false } as const;
  if (target.runtime !== 'containerd') {
    const result = await runProgram(program(target), ['rm', '--force', SERVICE_NAME], quiet);
    return result.exitCode === 0;
  }
  const ctr = (args: string[]) => runProgram(program(target), [...ctrGlobal(target), ...args], quiet);
  const info = await ctr(['containers', 'info', SERVICE_NAME]);
  if (info.exitCode !== 0) return false;
  // First tell the restart monitor to leave it stopped, then stop it gently.
  await ctr(['containers', 'label', SERVICE_NAME, 'containerd.io/restart.status=stopped']);
  await ctr(['tasks', 'kill', '--signal', 'SIGTERM', SERVICE_NAME]);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await containerRunning(target, io))) await sleep(100);
  await ctr(['tasks', 'delete', '--force', SERVICE_NAME]);
  const removed = await ctr(['containers', 'delete', SERVICE_NAME]);
  if (removed.exitCode !== 0) {
    throw new ExternalError(`could not remove the container ${SERVICE_NAME}: ${removed.stderr.trim()}`, {
      hint: `remove it by hand: ${formatCommand(program(target), [...ctrGlobal(target), 'containers', 'delete', SERVICE_NAME])}`,
    });
  }
  return true;
}
