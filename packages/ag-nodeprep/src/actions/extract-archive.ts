import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { MissingError, UsageError, VerificationError, sha256File, tempPathFor, withContext } from '@ag/core';
import { formatMode, inRoot } from '../root-fs.js';
import { hashMember, streamArchive, writeMember, type ArchiveMember } from './archive.js';
import { compareInstalled, requireSource } from './install-file.js';
import type { Action, ActionEnv, PlannedChange } from './types.js';

export interface ExtractSpec {
  step: string;
  source: string;
  sourceLabel: string;
  sha256: string | undefined;
  /** The node directory the members are flattened into (`/opt/cni/bin`). */
  extractTo: string;
  /** Only these entries (`linux-amd64/helm`); every regular file when absent. */
  members?: readonly string[] | undefined;
  /** Overrides the archive's modes (`0755`). */
  mode?: number | undefined;
  why: string;
}

function selector(spec: ExtractSpec): (entryPath: string, mode: number) => ArchiveMember | undefined {
  const wanted = spec.members?.map((m) => m.replace(/^(\.\/)+/, ''));
  return (entryPath, mode) => {
    if (wanted !== undefined && !wanted.includes(entryPath)) return undefined;
    return { entry: entryPath, name: posix.basename(entryPath), mode: spec.mode ?? (mode & 0o111 ? 0o755 : 0o644) };
  };
}

function refuseChecksumMismatch(spec: ExtractSpec, actual: string): void {
  if (actual !== spec.sha256) {
    throw new VerificationError(`${spec.source} has sha256 ${actual}, but the document says ${spec.sha256}`, {
      hint: 'the bundle is damaged or was changed: run ag-bundle verify, or carry the file again',
      details: { expected: spec.sha256, actual, path: spec.source },
    });
  }
}

function verifyArchive(spec: ExtractSpec, actual: string, members: ArchiveMember[]): void {
  refuseChecksumMismatch(spec, actual);
  const names = members.map((m) => m.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) throw new UsageError(`${spec.sourceLabel}: two members would both be installed as ${spec.extractTo}/${twice}`);
  const missing = (spec.members ?? []).filter((m) => !members.some((seen) => seen.entry === m.replace(/^(\.\/)+/, '')));
  if (missing.length > 0) throw new MissingError(`${spec.sourceLabel} has no member ${missing.join(', ')}`, { hint: 'check install.members in fetch.files against the archive (tar -tzf)' });
}

/**
 * Streams the archive; when it cannot be read (a damaged gzip stream fails
 * in zlib before the hash is complete), the whole file's hash says whether
 * the bundle's copy is not the one the document names, which is the error
 * the operator can act on.
 */
async function readArchive(spec: ExtractSpec, select: ReturnType<typeof selector>, onMember: Parameters<typeof streamArchive>[2]): Promise<{ sha256: string; members: ArchiveMember[] }> {
  try {
    return await streamArchive(spec.source, select, onMember);
  } catch (error) {
    refuseChecksumMismatch(spec, (await sha256File(spec.source)).sha256);
    throw withContext(`reading the archive ${spec.sourceLabel}`, error);
  }
}

/**
 * Unpacks members of an archive in the bundle (CNI plugins, crictl, helm,
 * k9s) into a node directory, flattened. The archive is verified against the
 * document's SHA-256 while it streams; members go to temporary names first
 * and are renamed into place only after the whole archive verified. A member
 * already installed with the same content and mode is left alone.
 */
export function extractArchiveAction(spec: ExtractSpec): Action {
  const select = selector(spec);
  let expected: Map<string, { sha256: string; mode: number }> | undefined;
  const expectedMembers = async (): Promise<Map<string, { sha256: string; mode: number }>> => {
    if (expected) return expected;
    if (spec.sha256 === undefined) {
      throw new MissingError(`${spec.sourceLabel} has no sha256 in the document, so it cannot be verified`, {
        hint: 'run ag-fetch download (it records the checksum of every file) before ag-nodeprep',
      });
    }
    await requireSource(spec.source, spec.sourceLabel);
    const found = new Map<string, { sha256: string; mode: number }>();
    const { sha256, members } = await readArchive(spec, select, async (member, stream) => {
      found.set(member.name, { sha256: await hashMember(stream), mode: member.mode });
    });
    verifyArchive(spec, sha256, members);
    expected = found;
    return found;
  };
  return {
    record: {
      step: spec.step,
      action: 'extract-archive',
      target: spec.extractTo,
      source: spec.sourceLabel,
      ...(spec.sha256 ? { sha256: spec.sha256 } : {}),
      ...(spec.mode !== undefined ? { mode: formatMode(spec.mode) } : {}),
      ...(spec.members ? { members: spec.members.map((m) => ({ name: m, path: posix.join(spec.extractTo, posix.basename(m)) })) } : {}),
      why: spec.why,
    },
    async inspect(env: ActionEnv): Promise<string[]> {
      const problems: string[] = [];
      for (const [name, member] of await expectedMembers()) {
        problems.push(...(await compareInstalled(env.root, posix.join(spec.extractTo, name), member.sha256, member.mode)));
      }
      return problems;
    },
    // inspect has already read and verified the archive (a damaged or missing one is a blocker from there).
    async change(env: ActionEnv): Promise<PlannedChange> {
      const due: string[] = [];
      for (const [name, member] of await expectedMembers()) {
        if ((await compareInstalled(env.root, posix.join(spec.extractTo, name), member.sha256, member.mode)).length > 0) due.push(name);
      }
      return { summary: `install ${due.join(', ')} into ${spec.extractTo} (from ${spec.sourceLabel})` };
    },
    provides: async () => ({ paths: [...(await expectedMembers()).keys()].map((name) => posix.join(spec.extractTo, name)) }),
    async apply(env: ActionEnv) {
      const wanted = await expectedMembers();
      const dir = inRoot(env.root, spec.extractTo);
      await mkdir(dir, { recursive: true });
      const temps = new Map<string, { temp: string; sha256: string; mode: number }>();
      try {
        const { sha256, members } = await readArchive(spec, select, async (member, stream) => {
          const temp = tempPathFor(posix.join(dir, member.name));
          temps.set(member.name, { temp, sha256: await writeMember(stream, temp, member.mode), mode: member.mode });
        });
        verifyArchive(spec, sha256, members);
        const written = new Set<string>();
        const backups: string[] = [];
        for (const [name, { temp, sha256: memberSha, mode }] of temps) {
          const path = posix.join(spec.extractTo, name);
          if (memberSha !== wanted.get(name)?.sha256) throw new VerificationError(`${spec.sourceLabel}: ${name} changed between two reads of the archive`);
          if ((await compareInstalled(env.root, path, memberSha, mode)).length === 0) {
            await rm(temp, { force: true });
            continue;
          }
          const backup = await env.backup(path);
          if (backup !== undefined) backups.push(backup);
          await chmod(temp, mode);
          await rename(temp, inRoot(env.root, path));
          written.add(path);
        }
        return {
          // One backup is that file; several share the directory they were kept in.
          backup: backups.length <= 1 ? backups[0] : posix.dirname(backups[0]!),
          detail: `${written.size} of ${temps.size} member(s) written`,
          members: [...temps].map(([name, m]) => ({ name, path: posix.join(spec.extractTo, name), sha256: m.sha256 })),
        };
      } finally {
        for (const { temp } of temps.values()) await rm(temp, { force: true });
      }
    },
  };
}
