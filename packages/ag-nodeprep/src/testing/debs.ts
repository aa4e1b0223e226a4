import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';

export interface BuiltDeb {
  /** The file name in `dir`. */
  file: string;
  sha256: string;
  size: number;
}

/** A real .deb built with dpkg-deb from a control file and `files` (node path -> content). Test support only. */
export async function buildDeb(dir: string, spec: { name: string; version: string; files: Record<string, string> }): Promise<BuiltDeb> {
  const tree = await mkdtemp(join(tmpdir(), 'ag-deb-'));
  try {
    await mkdir(join(tree, 'DEBIAN'));
    await writeFile(join(tree, 'DEBIAN/control'), `Package: ${spec.name}\nVersion: ${spec.version}\nArchitecture: amd64\nMaintainer: ag tests <ag@example.invalid>\nDescription: test package\n`);
    for (const [path, content] of Object.entries(spec.files)) {
      await mkdir(dirname(join(tree, path)), { recursive: true });
      await writeFile(join(tree, path), content);
    }
    await mkdir(dir, { recursive: true });
    const file = `${spec.name}_${spec.version}_amd64.deb`;
    await execa('dpkg-deb', ['--root-owner-group', '--build', tree, join(dir, file)]);
    const bytes = await readFile(join(dir, file));
    return { file, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}
