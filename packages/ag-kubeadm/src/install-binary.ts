import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { hostArchitecture, MissingError, tempPathFor, UsageError, VerificationError, withContext, type AgDocument } from '@ag/core';
import type { Runner } from './context.js';

/** A kubeadm, kubelet or kubectl the bundle carries, and where it is installed on a node. */
export interface BundleBinary {
  name: string;
  version: string;
  /** Relative to the bundle root. */
  path: string;
  /** On this machine. */
  source: string;
  installPath: string;
  mode: number;
  sha256?: string;
}

/** The bundle's `names` of `version` for this architecture (fetch.files); a missing one is exit 5, another version exit 2. */
export function bundleBinaries(document: AgDocument, version: string, names: string[]): BundleBinary[] {
  const arch = hostArchitecture();
  const root = document.root;
  return names.map((name) => {
    const file = (document.fetch?.files ?? []).find((f) => f.name === name && f.kind === 'binary' && (f.arch === undefined || f.arch === arch));
    if (file === undefined || root === undefined) {
      throw new MissingError(`the bundle carries no ${name} for linux/${arch}${root === undefined ? ' (the document has no bundle root: unpack the bundle first)' : ''}`, {
        hint: `carry ${name} ${version} (ag-fetch plan --kubernetes-version ${version}) and ag-bundle unpack it`,
      });
    }
    if (file.version !== version) {
      throw new UsageError(`the bundle's ${name} is ${file.version ?? 'of no recorded version'}, not ${version}`, { hint: `carry ${name} ${version} with the cluster version` });
    }
    return {
      name,
      version,
      path: file.path,
      source: join(root, file.path),
      installPath: file.install?.path ?? `/usr/local/bin/${name}`,
      mode: parseInt(file.install?.mode ?? '0755', 8),
      ...(file.sha256 === undefined ? {} : { sha256: file.sha256 }),
    };
  });
}

async function sha256Of(path: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  try {
    await pipeline(createReadStream(path), hash);
  } catch {
    return undefined;
  }
  return hash.digest('hex');
}

/**
 * Puts the bundle's binary in place: streamed to a temporary name next to
 * it, checked against the SHA-256 the document records, made executable,
 * renamed over the old one (a running kubelet keeps its old inode). An
 * identical file is left alone. Returns whether it changed anything.
 */
export async function installBinary(runner: Runner, binary: BundleBinary): Promise<boolean> {
  const target = runner.path(binary.installPath);
  const expected = binary.sha256 ?? (await sha256Of(binary.source));
  if (expected === undefined) throw new MissingError(`${binary.source} is not there (the bundle's ${binary.name} ${binary.version})`, { hint: 'ag-bundle unpack the bundle that carries it' });
  if ((await sha256Of(target)) === expected) return false;
  if (runner.dryRun) {
    runner.actions.push({ action: 'install-file', target: `${binary.source} -> ${target}` });
    return true;
  }
  await mkdir(dirname(target), { recursive: true });
  const temp = tempPathFor(target);
  const hash = createHash('sha256');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(createReadStream(binary.source), hashing, createWriteStream(temp, { flags: 'wx', mode: binary.mode }));
    const actual = hash.digest('hex');
    if (actual !== expected) throw new VerificationError(`${binary.source} has SHA-256 ${actual}, the document records ${expected}`, { hint: 'the bundle is damaged: ag-bundle verify it, or carry it again' });
    await chmod(temp, binary.mode);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error instanceof VerificationError ? error : withContext(`installing ${binary.name} ${binary.version} to ${target}`, error);
  }
  runner.log.info(`installed ${binary.name} ${binary.version} at ${binary.installPath}`);
  return true;
}
