import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { VerificationError, bundleRoot, resolveInRoot, withContext, type FileArtifact } from '@ag/core';
import type { Action } from '../actions/types.js';
import { writeFileAction } from '../actions/write-file.js';
import type { StepContext } from '../context.js';
import { installableFiles, installedPrograms } from './binaries.js';

/** Where a unit of the bundle goes when the document does not say. */
export function defaultUnitPath(file: FileArtifact): string {
  if (file.name.endsWith('.conf') || posix.basename(file.path).endsWith('.conf')) {
    return `/etc/systemd/system/kubelet.service.d/${posix.basename(file.path)}`;
  }
  return `/etc/systemd/system/${posix.basename(file.path)}`;
}

/** The systemd units of the document whose unit name is `unit` (`containerd.service`), or of every other unit. */
export function bundleUnits(context: Pick<StepContext, 'document'>, unit: string, which: 'only' | 'except'): FileArtifact[] {
  return (context.document?.fetch?.files ?? []).filter((f) => {
    if (f.kind !== 'systemd-unit') return false;
    const named = f.name === unit || posix.basename(f.install?.path ?? '') === unit;
    return which === 'only' ? named : !named;
  });
}

/** `/usr/bin/<program>` in a unit's text. */
const USR_BIN_PROGRAM = /\/usr\/bin\/([A-Za-z0-9._-]+)/g;

/**
 * Upstream's kubelet.service and 10-kubeadm.conf name `/usr/bin/kubelet`
 * (they come from the deb/rpm packaging); ag installs the binaries where the
 * document says (`/usr/local/bin`), so every `/usr/bin/<program>` of a program
 * the bundle installs is rewritten to where it went.
 */
export function fixUnitPaths(text: string, programs: ReadonlyMap<string, string>): string {
  return text.replace(USR_BIN_PROGRAM, (whole, name: string) => programs.get(name) ?? whole);
}

async function readVerified(source: string, label: string, sha256: string | undefined): Promise<string> {
  const bytes = await readFile(source).catch((error: unknown) => {
    throw withContext(`reading ${label} from the bundle`, error);
  });
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (sha256 === undefined || actual !== sha256) {
    throw new VerificationError(`${label} has sha256 ${actual}, but the document says ${sha256 ?? 'nothing'}`, {
      hint: sha256 === undefined ? 'run ag-fetch download, which records every checksum' : 'the bundle is damaged or was changed: run ag-bundle verify',
    });
  }
  return bytes.toString('utf8');
}

/** Writes each unit from the bundle (verified against the document) where it goes, with program paths fixed. */
export async function bundleUnitActions(context: StepContext, units: readonly FileArtifact[], step: string): Promise<Action[]> {
  if (units.length === 0) return [];
  const root = bundleRoot(context.document, context.options.bundleDir);
  const programs = installedPrograms(installableFiles(context));
  const actions: Action[] = [];
  for (const unit of units) {
    const text = await readVerified(resolveInRoot(root, unit.path), unit.path, unit.sha256);
    const path = unit.install?.path ?? defaultUnitPath(unit);
    const moved = [...new Set([...text.matchAll(USR_BIN_PROGRAM)].map((m) => m[1]!).filter((name) => programs.has(name)))];
    actions.push(
      await writeFileAction(
        {
          step,
          path,
          why: `${unit.name} from the bundle${moved.length > 0 ? `, ${moved.map((n) => `/usr/bin/${n} -> ${programs.get(n)}`).join(', ')}` : ''}`,
          mode: unit.install?.mode === undefined ? 0o644 : Number.parseInt(unit.install.mode, 8),
          content: fixUnitPaths(text, programs),
        },
        context.root,
      ),
    );
  }
  return actions;
}
