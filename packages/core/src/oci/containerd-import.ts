import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ExternalError } from '../errors.js';
import type { Io } from '../io.js';
import { formatCommand, runProgram } from '../program.js';
import { CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION } from './layout.js';
import { MediaType } from './media-types.js';

export interface ContainerdImportOptions {
  /** The layout's `blobs` directory (holding `sha256/`). */
  blobsDir: string;
  /** The images to name: each index.json entry gets its full reference, which ctr keeps as the image name. */
  images: ReadonlyArray<{ ref: string; digest: string; mediaType: string; size: number }>;
  /** The blobs to send, as `blobs/sha256/<hex>` paths: what the images need on the chosen platform(s). */
  blobs: readonly string[];
  /** The ctr binary (default `ctr`). */
  ctr?: string;
  /** ctr's arguments, ending in `images import … -`. */
  args: readonly string[];
  io: Pick<Io, 'env' | 'stderr'>;
  /** What to try when ctr could not reach containerd (its socket). */
  hint: string;
  /** What to try when an image has no content for the platform ctr imports (default: a generic line). */
  platformHint?: string;
  /** What to try when there is no ctr (default: install containerd). */
  missingHint?: string;
}

/**
 * (Imported as `@ag/core/containerd-import`, not from the package root, so
 * that tools which never load images into containerd do not carry node-tar.)
 *
 * Streams a tar of part of a layout into `ctr images import -`: an OCI
 * layout whose index.json names each image by its full reference, and only
 * the blobs given, read in place through a link (no tar file, no copy of the
 * layers). ctr's output goes to stderr: stdout is the document.
 */
export async function importIntoContainerd(options: ContainerdImportOptions): Promise<void> {
  const ctr = options.ctr ?? 'ctr';
  const command = formatCommand(ctr, options.args);
  const stage = await mkdtemp(join(tmpdir(), 'ag-ctr-import-'));
  try {
    const manifests = options.images.map(({ ref, digest, mediaType, size }) => ({
      mediaType,
      digest,
      size,
      annotations: { [CONTAINERD_NAME_ANNOTATION]: ref, [REF_NAME_ANNOTATION]: ref },
    }));
    await writeFile(join(stage, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(stage, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
    await symlink(options.blobsDir, join(stage, 'blobs'));
    // node-tar is loaded only here, so that tools that never import stay quick to start.
    const { create: createTar } = await import('tar');
    // follow: the blobs link is packed as the files it leads to. ctr reads the tar as it is made (no tar file).
    const tar = Readable.from(createTar({ cwd: stage, follow: true, portable: true }, ['oci-layout', 'index.json', ...options.blobs]));
    // Through runProgram (execa): ctr's output goes to our stderr, a missing ctr is exit 5, and ctr is ended with us.
    const result = await runProgram(ctr, options.args, {
      env: options.io.env,
      stderr: options.io.stderr,
      streamStdout: true,
      input: tar,
      allowFailure: true,
      missingHint: options.missingHint ?? 'install containerd (it ships ctr)',
    });
    if (result.exitCode !== 0) {
      const said = result.stderr || result.stdout;
      throw new ExternalError(`${command} failed with exit code ${result.exitCode}: ${said.trim().split('\n').slice(-4).join('\n')}`, { hint: ctrFailureHint(said, options) });
    }
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/**
 * What to try after ctr failed, from what it said: the socket hint only when
 * it could not reach containerd (ctr's "failed to dial", "connection
 * refused"), not for an image problem it reported itself.
 */
export function ctrFailureHint(said: string, options: Pick<ContainerdImportOptions, 'hint' | 'platformHint'>): string {
  if (/failed to dial|connection refused|connection error|deadline exceeded|no such file or directory/i.test(said)) return options.hint;
  if (/permission denied/i.test(said)) return "ctr needs root (or write access to containerd's socket)";
  if (/no match for platform|filtered out/i.test(said)) {
    return options.platformHint ?? 'an image has no content for the platform ctr imports: import for a platform it has, or for all of them';
  }
  return 'what ctr said (above) is the cause; fix that and run again';
}
