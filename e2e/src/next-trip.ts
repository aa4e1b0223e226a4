import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { formatRegistryTarget, registryTargetOf, type AgDocument } from '@ag/core';
import { runConnectedSide, type ConnectedResult } from './connected-side.js';
import { farTool, json, pullByUpstreamName, TRUST_ANCHOR } from './far-side.js';
import type { Shell } from './shell.js';
import type { Stages } from './stages.js';
import type { UpstreamInfo } from './upstream/info.js';

export const CARRIED_DELTA = 'carry/delta.tar';

export interface NextTripResult {
  /** The connected side's delta bundle and the document pack wrote. */
  connected: ConnectedResult;
  /** The far side's document after unpacking the delta onto its bundle. */
  unpacked: AgDocument;
  pushed: AgDocument;
  /** The next release's control-plane images containerd then pulled by their upstream names. */
  pulled: string[];
}

/**
 * The next trip, as run.sh makes it across VMs: the far side records what
 * it has (`ag-bundle inventory`), that file is carried back, the connected
 * side runs the pipeline for the next patch release and packs only what the
 * far side lacks (`ag-bundle pack --have`), the delta is carried, verified
 * and unpacked onto the far side's bundle (the tools of the bundle already
 * there do it), then pushed; containerd pulls the new release's images by
 * their upstream names. `sha256sum -c SHA256SUMS` in the far side's bundle
 * then passes for the whole new bundle.
 */
export async function runNextTrip(connectedShell: Shell, farShell: Shell, stages: Stages, upstream: UpstreamInfo): Promise<NextTripResult> {
  if (upstream.next === undefined) throw new Error('the stand-in upstream holds no next release (serve.ts --next-version)');
  const { kubernetesVersion: nextVersion, images: nextImages } = upstream.next;
  await stages.run('far', 'ag-bundle inventory (what the far side has)', async () => {
    await mkdir(join(farShell.cwd, 'back'), { recursive: true });
    return farShell.run(farTool('ag-bundle', ['inventory', '--dir', 'bundle', '--out', 'back/inventory.json']));
  });
  await stages.run('carry', 'carry inventory.json back', async () => {
    await mkdir(join(connectedShell.cwd, 'in'), { recursive: true });
    connectedShell.reporter.command('cp <far>/back/inventory.json in/inventory.json');
    await copyFile(join(farShell.cwd, 'back', 'inventory.json'), join(connectedShell.cwd, 'in', 'inventory.json'));
  });
  const connected = await runConnectedSide(connectedShell, stages, upstream, { kubernetesVersion: nextVersion, dir: `bundle-${nextVersion}`, out: 'out/delta.tar', have: 'in/inventory.json' });
  await stages.run('carry', 'carry delta.tar across', async () => {
    connectedShell.reporter.command(`cp out/delta.tar <far>/${CARRIED_DELTA}`);
    await copyFile(connected.bundleFile, join(farShell.cwd, CARRIED_DELTA));
    connectedShell.reporter.note(`${connected.bundleBytes} bytes carried`);
  });

  await stages.run('far', 'ag-bundle verify (delta)', () => farShell.run(farTool('ag-bundle', ['verify', CARRIED_DELTA, '--key', TRUST_ANCHOR], { stdout: 'doc/next-verified.json' })));
  await stages.run('far', 'ag-bundle unpack (delta onto the bundle)', () =>
    farShell.run(farTool('ag-bundle', ['unpack', CARRIED_DELTA, '--dir', 'bundle', '--key', TRUST_ANCHOR], { stdout: 'doc/next.json' })),
  );
  await stages.run('far', 'sha256sum -c SHA256SUMS (the whole new bundle)', () => farShell.run({ argv: ['sh', '-c', 'cd bundle && sha256sum --quiet --strict -c SHA256SUMS'] }));
  const registry = (await json(farShell, 'doc/pushed.json')).registry!;
  await stages.run('far', 'ag-images push (delta)', () =>
    farShell.run(
      farTool('ag-images', ['push', '--registry', formatRegistryTarget(registryTargetOf(registry)!), ...(registry.caFile ? ['--ca-file', registry.caFile] : []), '--credentials-file', registry.credentialsFile!], {
        stdin: 'doc/next.json',
        stdout: 'doc/next-pushed.json',
      }),
    ),
  );
  await stages.run('far', `containerd: pull the ${nextVersion} images`, async () => {
    for (const ref of nextImages) await pullByUpstreamName(farShell, ref);
  });
  return { connected, unpacked: await json(farShell, 'doc/next.json'), pushed: await json(farShell, 'doc/next-pushed.json'), pulled: nextImages };
}
