import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OciLayout } from '@ag/core';
import { createTestIo } from '@ag/core/testing';
import { generatedLayout, writeKubeadmLikeSet, type GeneratedImage } from '@ag/fixtures';
import { main } from './cli.js';
import type { LayoutImage } from './list.js';

let dir: string;
let layoutDir: string;
let images: GeneratedImage[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ag-images-cli-'));
  layoutDir = join(dir, 'bundle', 'images');
  images = await writeKubeadmLikeSet(await generatedLayout(layoutDir), { uniqueBytes: 32 * 1024, sharedBytes: 64 * 1024 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = createTestIo({ stdin, env: { HOME: dir }, cwd: dir });
  const code = await main(argv, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

describe('ag-images list, verify and usage', () => {
  it('prints help with examples, and exits 2 on a usage error', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('ag-images push --registry registry.internal:5000');
    const noRefs = await run(['pull', '--layout', layoutDir]);
    expect(noRefs.code).toBe(2);
    expect(noRefs.stderr).toMatch(/nothing to pull/);
    const badPlatform = await run(['pull', 'pause:3.9', '--platform', 'amd64', '--layout', layoutDir]);
    expect(badPlatform.code).toBe(2);
    const badRegistry = await run(['push', '--registry', 'https://x:5000/v2', '--layout', layoutDir]);
    expect(badRegistry.code).toBe(2);
    expect(badRegistry.stderr).toMatch(/has a scheme: it is HOST\[:PORT\]\[\/PREFIX\]/);
  });

  it('lists every image with its digest, platforms and size, as a table or JSON', async () => {
    const table = await run(['list', '--layout', layoutDir]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^REFERENCE\s+DIGEST\s+PLATFORMS\s+SIZE$/);
    expect(lines).toHaveLength(images.length + 1);
    expect(table.stdout).toMatch(/registry\.k8s\.io\/pause:3\.9\s+sha256:[0-9a-f]{12}\s+linux\/amd64,linux\/arm64\/v8\s+\d/);
    const json = JSON.parse((await run(['list', '--layout', layoutDir, '--output', 'json'])).stdout) as LayoutImage[];
    const pause = json.find((i) => i.ref === 'registry.k8s.io/pause:3.9')!;
    expect(pause).toMatchObject({ digest: images.find((i) => i.ref === pause.ref)!.descriptor.digest, partial: false, foreignLayers: 0 });
    expect(pause.size).toBeGreaterThan(64 * 1024);
  });

  it('verifies a sound layout, passing the document through; exits 3 naming a damaged digest; --repair removes it', async () => {
    const document = { apiVersion: 'ag/v1alpha1', kind: 'Cluster', root: join(dir, 'bundle'), note: 'passed through' };
    const ok = await run(['verify'], JSON.stringify(document));
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual(document);
    expect(ok.stderr).toMatch(/all match/);

    const index = JSON.parse(await readFile(join(layoutDir, 'blobs', 'sha256', images[0]!.descriptor.digest.slice(7)), 'utf8')) as { manifests: Array<{ digest: string }> };
    const victim = index.manifests[0]!.digest;
    const path = join(layoutDir, 'blobs', 'sha256', victim.slice(7));
    const original = await readFile(path);
    await writeFile(path, Buffer.concat([original.subarray(0, original.length - 1), Buffer.from(' ')]));
    // A second bad blob, of another image: both are named, each on its own line.
    const otherIndex = JSON.parse(await readFile(join(layoutDir, 'blobs', 'sha256', images[1]!.descriptor.digest.slice(7)), 'utf8')) as { manifests: Array<{ digest: string }> };
    const other = otherIndex.manifests[0]!.digest;
    const otherPath = join(layoutDir, 'blobs', 'sha256', other.slice(7));
    const otherOriginal = await readFile(otherPath);
    await writeFile(otherPath, Buffer.concat([Buffer.from(' '), otherOriginal.subarray(1)]));
    const bad = await run(['verify', '--layout', layoutDir]);
    expect(bad.code).toBe(3);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(new RegExp(`^\\s+blob ${victim} content hashes to`, 'm'));
    expect(bad.stderr).toMatch(new RegExp(`^\\s+blob ${other} content hashes to`, 'm'));
    expect(bad.stderr).not.toMatch(/more problem/);
    await writeFile(otherPath, otherOriginal);
    const repaired = await run(['verify', '--layout', layoutDir, '--repair']);
    expect(repaired.code).toBe(3);
    const after = await run(['verify', '--layout', layoutDir]);
    expect(after.code).toBe(3);
    expect(after.stderr).toMatch(new RegExp(`${victim} .*is missing`));
    await writeFile(path, original);
    expect((await run(['verify', '--layout', layoutDir])).code).toBe(0);
  });

  it('collects the blobs of an image no longer named, and nothing else', async () => {
    const layout = await OciLayout.open(layoutDir);
    const generated = await generatedLayout(layoutDir);
    await generated.writeImageSpec({ ref: 'example.com/old:1', platforms: [{ platform: { os: 'linux', architecture: 'amd64' }, layers: [{ kind: 'random', size: 50_000, seed: 'old' }] }] });
    const before = (await readdir(layout.blobDir)).length;
    await layout.removeEntries(['example.com/old:1']);
    const dry = await run(['gc', '--layout', layoutDir, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect((await readdir(layout.blobDir)).length).toBe(before);
    const done = await run(['gc', '--layout', layoutDir]);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/deleted 3 unreferenced blob\(s\)/);
    expect((await readdir(layout.blobDir)).length).toBe(before - 3);
    expect((await run(['verify', '--layout', layoutDir])).code).toBe(0);
  });

  it('prints the ctr command that import would run, without running it', async () => {
    const { code, stderr } = await run(['import', 'registry.k8s.io/pause:3.9', '--layout', layoutDir, '--dry-run', '--containerd-address', '/run/x.sock']);
    expect(code, stderr).toBe(0);
    const plan = JSON.parse(stderr.split('\n').find((l) => l.startsWith('{"dryRun"'))!) as { command: string; blobs: number };
    expect(plan.command).toBe('ctr --address /run/x.sock --namespace k8s.io images import -');
    expect(plan.blobs).toBeGreaterThan(5);
    const missing = await run(['import', 'registry.k8s.io/nope:1', '--layout', layoutDir, '--dry-run']);
    expect(missing.code).toBe(5);
  });
});
