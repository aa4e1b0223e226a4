/**
 * The embedded registry's password checks run on a worker thread started
 * from source (embedded/password-worker.ts), with bcryptjs inlined by the
 * build (tools/build/inline-sources.mjs). Here it runs as shipped: the
 * tool's one-file bundle and the single executable, each copied where no
 * node_modules can be found, must verify the generated credentials.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureExecutables, executablePaths, REPO_ROOT } from '@ag/build/executables';
import { generatedLayout, LINUX_AMD64, pauseStandIn } from '@ag/fixtures';
import { startEmbeddedChild, type EmbeddedChild } from './testing/embedded-child.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agr-exe-'));
  const layout = await generatedLayout(join(dir, 'layout'));
  await layout.writeImageSpec({ ref: 'registry.k8s.io/pause:3.9', mediaTypes: 'oci', platforms: [pauseStandIn(LINUX_AMD64)] });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The answers to the right credentials and a wrong password (HTTP statuses). */
async function answers(registry: EmbeddedChild): Promise<{ right: number; wrong: number }> {
  const agent = new Agent({ connect: { ca: registry.ca } });
  const status = async (authorization: string) => {
    const res = await request(`${registry.base}/v2/`, { dispatcher: agent, headers: { authorization } });
    await res.body.dump();
    return res.statusCode;
  };
  try {
    return { right: await status(registry.authorization), wrong: await status(`Basic ${Buffer.from('ag:wrong').toString('base64')}`) };
  } finally {
    await agent.close();
  }
}

async function serving(name: string, command: string[]): Promise<{ right: number; wrong: number }> {
  const registry = await startEmbeddedChild(join(dir, name), join(dir, 'layout'), command);
  try {
    return await answers(registry);
  } finally {
    await registry.stop();
  }
}

describe('password checks off the event loop, as shipped', () => {
  it('in the one-file bundle', async () => {
    const bins = (await import(join(REPO_ROOT, 'tools', 'build', 'bundle-bins.mjs'))) as {
      bundleTool(options: { entry: string; outfile: string }): Promise<void>;
    };
    const outfile = join(dir, 'bundle', 'ag-registry.mjs');
    await bins.bundleTool({ entry: join(import.meta.dirname, 'bin.ts'), outfile });
    expect(await serving('bundle', [process.execPath, outfile])).toEqual({ right: 200, wrong: 401 });
  }, 120_000);

  it.runIf(process.arch === 'x64')('in the single executable', async () => {
    await ensureExecutables({ arches: ['amd64'] });
    const ag = join(dir, 'ag');
    await copyFile(executablePaths('amd64').ag, ag);
    expect(await serving('executable', [ag, 'registry'])).toEqual({ right: 200, wrong: 401 });
  }, 900_000);
});
