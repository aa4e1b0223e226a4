import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { writeFileAtomic } from '../atomic.js';
import { MissingError, VerificationError, withContext } from '../errors.js';
import { BlobWriter, type BlobWriterOptions, type ExpectedBlob } from './blob-writer.js';
import { descriptorOf, digestHex, type Descriptor } from './descriptor.js';
import { withLayoutLock } from './layout-lock.js';
import { MAX_MANIFEST_BYTES, parseManifest, type ImageIndex, type ParsedManifest } from './manifest.js';
import { MediaType } from './media-types.js';
import { VerifyingStream } from './verifying-reader.js';

/** The annotation OCI tools (skopeo's `oci:DIR:REF`, oras) match a reference against. */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
/** The annotation `ctr images import` names an image by (and `ctr export` writes). */
export const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';
/**
 * Where ag keeps partial blobs and its lock, inside the layout directory.
 * Not part of the image-spec layout: packers skip it; `gc` empties it.
 */
export const INGEST_DIR = '.ag-ingest';

/** One image in the layout: an index.json entry and the reference it is named by. */
export interface LayoutEntry {
  /** The full reference from the entry's annotation (`registry.k8s.io/pause:3.9`); undefined if unnamed. */
  ref: string | undefined;
  descriptor: Descriptor;
}

export interface OpenLayoutOptions {
  /** Create the directory, `oci-layout` and an empty `index.json` when they are missing. */
  create?: boolean;
  /** fsync each blob before naming it (default true). */
  fsync?: boolean;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * An OCI image layout on disk (image-spec image-layout.md): `oci-layout`,
 * `index.json` with one entry per image reference, and one `blobs/sha256`
 * directory for everything, so a layer shared by ten images is stored once.
 *
 * Writes are atomic and verified: a blob appears under its name only once its
 * size and digest were checked (see BlobWriter); index.json is rewritten
 * through a temporary file under a lock. Reads stream and verify at EOF. The
 * layout stays readable by skopeo (`oci:DIR:REF`), containerd (`ctr images
 * import` of its tar), podman and oras.
 *
 * Deliberately not here: talking to registries (see RegistryClient), choosing
 * platforms (see selectPlatforms), tar export (ag-images import, ag-bundle).
 */
export class OciLayout {
  readonly dir: string;
  readonly blobDir: string;
  readonly ingestDir: string;
  private readonly writerOptions: BlobWriterOptions;

  private constructor(dir: string, options: OpenLayoutOptions) {
    this.dir = dir;
    this.blobDir = join(dir, 'blobs', 'sha256');
    this.ingestDir = join(dir, INGEST_DIR);
    this.writerOptions = { fsync: options.fsync ?? true };
  }

  /**
   * Opens the layout at `dir`. Without `create`, a directory that is not a
   * layout is a MissingError saying so.
   */
  static async open(dir: string, options: OpenLayoutOptions = {}): Promise<OciLayout> {
    const layout = new OciLayout(resolve(dir), options);
    const marker = join(layout.dir, 'oci-layout');
    if (!(await exists(marker))) {
      if (!options.create) {
        throw new MissingError(`${layout.dir} is not an OCI image layout (it has no oci-layout file)`, {
          hint: 'pass the directory that ag-images pull wrote (the bundle\'s images/), or pull into it first',
        });
      }
      try {
        await mkdir(layout.blobDir, { recursive: true });
        await writeFileAtomic(marker, `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`);
        if (!(await exists(join(layout.dir, 'index.json')))) await layout.writeIndex({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] });
      } catch (error) {
        throw withContext(`creating the OCI layout ${layout.dir}`, error);
      }
    }
    await mkdir(layout.blobDir, { recursive: true });
    return layout;
  }

  /** The path of a blob, whether it exists or not. */
  blobPath(digest: string): string {
    return join(this.blobDir, digestHex(digest));
  }

  /** The stored size of a blob, or undefined when it is absent. */
  async blobSize(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch {
      return undefined;
    }
  }

  /**
   * Whether the blob is stored (with the expected size when given). Cheap: a
   * stat, no hashing; a blob under its name was verified when written.
   */
  async hasBlob(blob: ExpectedBlob): Promise<boolean> {
    const size = await this.blobSize(blob.digest);
    return size !== undefined && (blob.size === undefined || size === blob.size);
  }

  /** A writer for one blob (see BlobWriter): append streams, then commit. */
  openBlobWriter(expected: ExpectedBlob): Promise<BlobWriter> {
    return BlobWriter.open(this.blobDir, this.ingestDir, expected, this.writerOptions);
  }

  /**
   * Streams `source` into the layout as the blob `expected`, verifying size
   * and digest before it is named. Resolves to the stored descriptor's digest
   * and size. Use openBlobWriter to resume a broken download.
   */
  async writeBlob(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, expected: ExpectedBlob, onBytes?: (count: number) => void): Promise<{ digest: string; size: number }> {
    const writer = await this.openBlobWriter(expected);
    try {
      if (writer.written > 0) writer.reset();
      await writer.append(source, onBytes);
      return await writer.commit();
    } catch (error) {
      await writer.abort();
      throw error;
    }
  }

  /** Stores small bytes (a manifest, an index, a config) and returns their descriptor. */
  async writeBytes(bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
    const descriptor = descriptorOf(bytes, mediaType);
    if (await this.hasBlob(descriptor)) return descriptor;
    await this.writeBlob([bytes], descriptor);
    return descriptor;
  }

  /**
   * A stream of a blob's bytes that fails at its end with a
   * VerificationError when they do not match (always checked: a disk can rot).
   * A missing blob is a MissingError naming the digest.
   */
  async openBlob(blob: ExpectedBlob): Promise<Readable> {
    const path = this.blobPath(blob.digest);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new MissingError(`blob ${blob.digest} is not in the layout ${this.dir}`, {
          details: { digest: blob.digest },
          hint: 'pull the image again (ag-images pull fetches only what is missing)',
        });
      }
      throw withContext(`opening blob ${blob.digest}`, error);
    }
    const verifier = new VerifyingStream(blob, `layout ${this.dir}`);
    const source = handle.createReadStream({ highWaterMark: 1 << 20 });
    source.on('error', (error) => verifier.destroy(error));
    verifier.on('close', () => source.destroy());
    return source.pipe(verifier);
  }

  /** A small blob's verified bytes (manifests, configs); refuses more than `maxBytes`. */
  async readBytes(blob: ExpectedBlob, maxBytes = MAX_MANIFEST_BYTES): Promise<Buffer> {
    let bytes: Buffer;
    try {
      const size = await this.blobSize(blob.digest);
      if (size === undefined) {
        throw new MissingError(`blob ${blob.digest} is not in the layout ${this.dir}`, {
          details: { digest: blob.digest },
          hint: 'pull the image again (ag-images pull fetches only what is missing)',
        });
      }
      if (size > maxBytes) throw new VerificationError(`blob ${blob.digest} is ${size} bytes, more than the ${maxBytes} a manifest may have`);
      bytes = await readFile(this.blobPath(blob.digest));
    } catch (error) {
      throw withContext(`reading blob ${blob.digest}`, error);
    }
    const actual = descriptorOf(bytes, '');
    if (actual.digest !== blob.digest || (blob.size !== undefined && actual.size !== blob.size)) {
      throw new VerificationError(`layout ${this.dir}: blob ${blob.digest} hashes to ${actual.digest} (${actual.size} bytes)`, {
        details: { digest: blob.digest, actualDigest: actual.digest },
        hint: 'the layout is damaged: run ag-images verify, then pull again',
      });
    }
    return bytes;
  }

  /** Reads and parses a manifest or index the descriptor points at. */
  async readManifest(descriptor: Descriptor): Promise<{ bytes: Buffer; parsed: ParsedManifest }> {
    const bytes = await this.readBytes(descriptor);
    return { bytes, parsed: parseManifest(bytes, descriptor.mediaType, `manifest ${descriptor.digest}`) };
  }

  /** The parsed index.json. */
  async readIndex(): Promise<ImageIndex> {
    const path = join(this.dir, 'index.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw withContext(`reading ${path}`, error);
    }
    const parsed = parseManifest(Buffer.from(text), MediaType.ociIndex, path);
    if (parsed.kind !== 'index') throw new VerificationError(`${path} is not an image index`);
    return parsed.index;
  }

  private async writeIndex(index: ImageIndex): Promise<void> {
    await writeFileAtomic(join(this.dir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  }

  /** Every image in index.json, with its reference. */
  async entries(): Promise<LayoutEntry[]> {
    const index = await this.readIndex();
    return index.manifests.map((descriptor) => ({ ref: descriptor.annotations?.[REF_NAME_ANNOTATION], descriptor }));
  }

  /** The descriptor index.json holds for a full reference, or undefined. */
  async resolve(ref: string): Promise<Descriptor | undefined> {
    return (await this.entries()).find((entry) => entry.ref === ref)?.descriptor;
  }

  /**
   * Names images in index.json: one entry per reference, replacing an older
   * entry of the same reference, annotated with the full reference for OCI
   * tools and for containerd. The descriptors' blobs must be stored first
   * (a name never points at nothing). Other entries are kept as they are.
   */
  async setEntries(entries: Array<{ ref: string; descriptor: Descriptor; annotations?: Record<string, string> }>): Promise<void> {
    for (const { descriptor } of entries) {
      if (!(await this.hasBlob(descriptor))) {
        throw new MissingError(`cannot name ${descriptor.digest} in index.json: the blob is not stored`, { details: { digest: descriptor.digest } });
      }
    }
    const added = entries.map(({ ref, descriptor, annotations }) => {
      const { platform: _platform, annotations: _old, ...plain } = descriptor;
      return { ...plain, annotations: { ...annotations, [CONTAINERD_NAME_ANNOTATION]: ref, [REF_NAME_ANNOTATION]: ref } };
    });
    /** Whether index.json already names every entry exactly so (a re-run): then it is left alone. */
    const unchanged = (index: ImageIndex): boolean => {
      const current = new Map(index.manifests.map((d) => [d.annotations?.[REF_NAME_ANNOTATION] ?? '', JSON.stringify(d)]));
      return added.every((d) => current.get(d.annotations[REF_NAME_ANNOTATION]) === JSON.stringify(d));
    };
    // Looked at before taking the lock too: a no-op pull then costs one read, no lock directory, no write, no fsync.
    if (unchanged(await this.readIndex())) return;
    await withLayoutLock(join(this.ingestDir, 'index.lock'), async () => {
      const index = await this.readIndex();
      if (unchanged(index)) return;
      const names = new Set(entries.map((entry) => entry.ref));
      const kept = index.manifests.filter((d) => !names.has(d.annotations?.[REF_NAME_ANNOTATION] ?? ''));
      await this.writeIndex({ ...index, schemaVersion: 2, mediaType: index.mediaType ?? MediaType.ociIndex, manifests: [...kept, ...added] });
    });
  }

  /** Names one image (see setEntries). */
  async setEntry(ref: string, descriptor: Descriptor, annotations?: Record<string, string>): Promise<void> {
    await this.setEntries([annotations === undefined ? { ref, descriptor } : { ref, descriptor, annotations }]);
  }

  /**
   * Edits index.json's entries under the layout lock (for entries that are
   * not named images, such as referrers; see oci/referrers.ts). `edit` returns
   * the new list, or undefined to leave the file alone.
   */
  async updateIndex(edit: (manifests: Descriptor[]) => Descriptor[] | undefined): Promise<void> {
    await withLayoutLock(join(this.ingestDir, 'index.lock'), async () => {
      const index = await this.readIndex();
      const manifests = edit(index.manifests);
      if (manifests !== undefined) await this.writeIndex({ ...index, schemaVersion: 2, mediaType: index.mediaType ?? MediaType.ociIndex, manifests });
    });
  }

  /** Removes references from index.json (their blobs stay until `gc`). Returns how many were removed. */
  async removeEntries(refs: string[]): Promise<number> {
    const names = new Set(refs);
    return withLayoutLock(join(this.ingestDir, 'index.lock'), async () => {
      const index = await this.readIndex();
      const kept = index.manifests.filter((d) => !names.has(d.annotations?.[REF_NAME_ANNOTATION] ?? ''));
      const removed = index.manifests.length - kept.length;
      if (removed > 0) await this.writeIndex({ ...index, manifests: kept });
      return removed;
    });
  }
}
