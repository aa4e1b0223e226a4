import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HashingStream, MissingError, VerificationError, sha256File, tempPathFor, toAgError, withContext, type AgError } from '@ag/core';
import { formatMode, inRoot, lstatNode } from '../root-fs.js';
import type { Action, ActionEnv, PlannedChange } from './types.js';

export interface InstallFileSpec {
  step: string;
  /** The file in the bundle (absolute on this machine). */
  source: string;
  /** The same, relative to the bundle root, for the record. */
  sourceLabel: string;
  /** The SHA-256 the document promises; without it nothing is installed. */
  sha256: string | undefined;
  path: string;
  mode: number;
  why: string;
}

/** Whether a node file holds exactly `sha256` with `mode`; the problems otherwise. */
export async function compareInstalled(root: string, path: string, sha256: string | undefined, mode: number): Promise<string[]> {
  const info = await lstatNode(root, path);
  if (info === undefined) return [`${path} is missing`];
  if (!info.isFile()) return [`${path} is not a regular file`];
  const problems: string[] = [];
  if (sha256 !== undefined) {
    const actual = (await sha256File(inRoot(root, path))).sha256;
    if (actual !== sha256) problems.push(`${path} has sha256 ${actual}, wanted ${sha256}`);
  }
  if ((Number(info.mode) & 0o777) !== mode) problems.push(`${path} has mode ${formatMode(Number(info.mode))}, wanted ${formatMode(mode)}`);
  return problems;
}

/**
 * Streams `source` to a temporary file next to the target, hashing on the
 * way; renames it into place only when the hash is `sha256`. Never a Buffer:
 * kubelet and kubectl are tens of megabytes.
 */
export async function copyVerified(source: string, target: string, sha256: string, mode: number): Promise<void> {
  await mkdir(posix.dirname(target), { recursive: true });
  const temp = tempPathFor(target);
  const hasher = new HashingStream();
  try {
    await pipeline(createReadStream(source), hasher, createWriteStream(temp, { mode }));
    const actual = hasher.digest();
    if (actual !== sha256) {
      throw new VerificationError(`${source} has sha256 ${actual}, but the document says ${sha256}`, {
        hint: 'the bundle is damaged or was changed: run ag-bundle verify, or carry the file again',
        details: { expected: sha256, actual, path: source },
      });
    }
    await chmod(temp, mode);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Checks that a bundle file is there before anything is changed for it. */
export async function requireSource(source: string, label: string): Promise<void> {
  try {
    await stat(source);
  } catch (error) {
    throw withContext(`reading ${label} from the bundle`, error);
  }
}

/**
 * Why a file of the bundle cannot be installed, found before anything is
 * written: no checksum in the document, not in the bundle, or not the bytes
 * the document names. Apply verifies again while it copies.
 */
export async function sourceBlockers(source: string, label: string, sha256: string | undefined): Promise<AgError[]> {
  if (sha256 === undefined) {
    return [new MissingError(`${label} has no sha256 in the document, so it cannot be verified`, { hint: 'run ag-fetch download (it records the checksum of every file) before ag-nodeprep' })];
  }
  if ((await stat(source).catch(() => undefined)) === undefined) {
    return [new MissingError(`${label} is not in the bundle (no ${source})`, { hint: 'unpack the whole bundle (ag-bundle unpack), or pass --dir with the bundle root' })];
  }
  try {
    const actual = (await sha256File(source)).sha256;
    if (actual === sha256) return [];
    return [
      new VerificationError(`${label} in the bundle has sha256 ${actual}, but the document says ${sha256}`, {
        hint: 'the bundle is damaged or was changed: run ag-bundle verify, or carry the file again',
        details: { expected: sha256, actual, path: source },
      }),
    ];
  } catch (error) {
    return [toAgError(withContext(`reading ${label} from the bundle`, error))];
  }
}

/** "install", "replace" or "chmod" a node file that should hold `sha256` with `mode`. */
export async function installChange(root: string, path: string, sha256: string | undefined, mode: number, from: string): Promise<PlannedChange> {
  const info = await lstatNode(root, path);
  if (info === undefined) return { summary: `install ${path} (${from})` };
  const sameContent = info.isFile() && sha256 !== undefined && (await sha256File(inRoot(root, path))).sha256 === sha256;
  return sameContent ? { summary: `chmod ${formatMode(mode)} ${path}` } : { summary: `replace ${path} (${from})` };
}

/** Installs one file of the bundle at a node path with a mode, verified against the document's SHA-256. */
export function installFileAction(spec: InstallFileSpec): Action {
  return {
    record: {
      step: spec.step,
      action: 'install-file',
      target: spec.path,
      source: spec.sourceLabel,
      ...(spec.sha256 ? { sha256: spec.sha256 } : {}),
      mode: formatMode(spec.mode),
      why: spec.why,
    },
    inspect: (env: ActionEnv) => compareInstalled(env.root, spec.path, spec.sha256, spec.mode),
    change: (env: ActionEnv) => installChange(env.root, spec.path, spec.sha256, spec.mode, `from ${spec.sourceLabel}`),
    blockers: () => sourceBlockers(spec.source, spec.sourceLabel, spec.sha256),
    provides: async () => ({ paths: [spec.path] }),
    async apply(env: ActionEnv) {
      if (spec.sha256 === undefined) {
        throw new MissingError(`${spec.sourceLabel} has no sha256 in the document, so it cannot be verified`, {
          hint: 'run ag-fetch download (it records the checksum of every file) before ag-nodeprep apply',
        });
      }
      await requireSource(spec.source, spec.sourceLabel);
      const backup = await env.backup(spec.path);
      await copyVerified(spec.source, inRoot(env.root, spec.path), spec.sha256, spec.mode);
      return { backup };
    },
  };
}
