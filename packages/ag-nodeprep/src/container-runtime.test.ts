/**
 * A bundle that carries containerd, runc and containerd.service from their
 * releases (`ag-fetch plan --containerd upstream`), applied to a Debian 12
 * root whose own containerd is 1.6: the bundle's containerd is installed
 * where containerd's getting-started guide puts it, and the config is
 * written for it (version 3), not for the packaged one.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgDocument } from '@ag/core';
import { containerdService } from '@ag/fixtures';
import { DEBIAN_12, withUpstreamRuntime, writeBundle, writeTree } from './testing/node-roots.js';
import { listTree, run } from './testing/run.js';

describe('ag-nodeprep apply with containerd from the bundle', () => {
  let dir: string;
  let document: AgDocument;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ag-nodeprep-runtime-'));
    document = await withUpstreamRuntime(await writeBundle(join(dir, 'bundle')), containerdService('v2.3.1'), 'v2.3.1', 'v1.3.3');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('installs containerd, runc and the unit, and writes config version 3 for it over the 1.6 the packages say', async () => {
    const root = join(dir, 'debian');
    await writeTree(root, DEBIAN_12);
    const first = await run(['apply', '--root', root], document);
    expect(first.code, first.stderr).toBe(0);

    const tree = await listTree(root, []);
    for (const name of ['containerd', 'containerd-shim-runc-v2', 'ctr']) expect(tree[`usr/local/bin/${name}`]).toBe(`755 #!/bin/sh\necho "${name} v2.3.1 (stand-in)"\n`);
    // Only the members the document names: containerd-stress is a benchmark tool.
    expect(tree['usr/local/bin/containerd-stress']).toBeUndefined();
    expect(tree['usr/local/sbin/runc']).toBe('755 #!/bin/sh\necho "runc v1.3.3 (stand-in)"\n');
    expect(tree['usr/local/lib/systemd/system/containerd.service']).toBe(`644 ${containerdService('v2.3.1')}`);
    // Enabled from where it was installed, which takes precedence over Debian's packaged unit.
    expect(tree['etc/systemd/system/multi-user.target.wants/containerd.service']).toBe('-> /usr/local/lib/systemd/system/containerd.service');
    // The kubelet step leaves containerd.service to the containerd step.
    expect(tree['etc/systemd/system/containerd.service']).toBeUndefined();

    const config = parse(await readFile(join(root, 'etc/containerd/config.toml'), 'utf8'));
    expect(config['version']).toBe(3);
    expect(first.document!.nodeprep!.containerd).toMatchObject({ version: '2.3.1', versionSource: 'the bundle (fetch.files)', configVersion: 3 });

    const again = await run(['apply', '--root', root], document);
    expect(again.code, again.stderr).toBe(0);
    expect(again.document!.nodeprep!.changes).toBe(0);
  });

  it('refuses a containerd archive that differs from the document, and installs none of it', async () => {
    const root = join(dir, 'tampered');
    await writeTree(root, DEBIAN_12);
    const archive = document.fetch!.files.find((f) => f.name === 'containerd')!;
    const tamperedBundle = join(dir, 'bundle');
    const original = await readFile(join(tamperedBundle, archive.path));
    const tampered = Buffer.from(original);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 9) ^ 0xff, tampered.length - 9);
    await writeFile(join(tamperedBundle, archive.path), tampered);
    try {
      const result = await run(['apply', '--root', root], document);
      // A blocker found before anything changes (exit 3), named as what it is: not a zlib error.
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toContain(`${archive.path} has sha256`);
      expect(result.stderr).toContain('nothing was changed');
      expect(result.stderr).not.toContain('zlib');
      const tree = await listTree(root, []);
      expect(Object.keys(tree).filter((p) => p.startsWith('usr/local/bin/containerd') || p.startsWith('usr/local/bin/ctr'))).toEqual([]);
    } finally {
      await writeFile(join(tamperedBundle, archive.path), original);
    }
  });
});
