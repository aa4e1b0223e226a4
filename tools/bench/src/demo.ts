/**
 * The pipeline so far, on a machine with no internet: a local file server
 * plays every upstream host (populateUpstream's stand-in tree), and
 * `ag-fetch plan … | ag-fetch download …` runs against it as two real
 * processes joined by a pipe. Prints a summary on stderr.
 *
 *   npm run demo [-- --out DIR]
 */
import { formatBytes, validateDocument, type AgDocument } from '@ag/core';
import { populateUpstream, startFileServer } from '@ag/fixtures';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './workspace.js';

export interface DemoResult {
  out: string;
  document: AgDocument;
  elapsedMs: number;
}

const say = (line = ''): boolean => process.stderr.write(`${line}\n`);

function ensureBuilt(tool: string): string {
  const bin = join(REPO_ROOT, 'packages', tool, 'bin', `${tool}.mjs`);
  if (!existsSync(join(REPO_ROOT, 'packages', tool, 'dist', `${tool}.mjs`))) {
    say(`building ${tool} (npm run build does them all)…`);
    const built = spawnSync(process.execPath, [join(REPO_ROOT, 'tools/build/bundle-bins.mjs'), tool], { stdio: 'inherit' });
    if (built.status !== 0) throw new Error(`building ${tool} failed`);
  }
  return bin;
}

/** Runs `a | b > file` with both processes' stderr on ours; resolves with both exit codes. */
function pipeline(a: string[], b: string[], outFile: string, env: NodeJS.ProcessEnv): Promise<[number, number]> {
  return new Promise((resolve, reject) => {
    const first = spawn(process.execPath, a, { stdio: ['ignore', 'pipe', 'inherit'], env });
    const second = spawn(process.execPath, b, { stdio: ['pipe', 'pipe', 'inherit'], env });
    first.stdout.pipe(second.stdin);
    second.stdout.pipe(createWriteStream(outFile));
    const codes: (number | null)[] = [null, null];
    let done = 0;
    const finish = (index: number) => (code: number | null) => {
      codes[index] = code;
      done += 1;
      if (done === 2) resolve([codes[0] ?? 1, codes[1] ?? 1]);
    };
    first.on('error', reject);
    second.on('error', reject);
    first.on('close', finish(0));
    second.on('close', finish(1));
  });
}

export async function runDemo(options: { out?: string; quiet?: boolean } = {}): Promise<DemoResult> {
  const started = Date.now();
  const out = options.out ?? (await mkdtemp(join(tmpdir(), 'ag-demo-')));
  await mkdir(out, { recursive: true });
  const fetchBin = ensureBuilt('ag-fetch');
  await rm(join(out, 'upstream'), { recursive: true, force: true });
  const upstream = await populateUpstream(join(out, 'upstream'));
  const server = await startFileServer({ root: upstream.root });
  try {
    const bundle = join(out, 'bundle');
    const plan = [
      fetchBin, 'plan', '--kubernetes-version', 'v1.27.3', '--arch', 'amd64', '--os', 'fedora-37', '--cni', 'flannel@v0.22.0',
      '--chart', 'https://stefanprodan.github.io/podinfo/podinfo@6.4.0', '--image', 'ghcr.io/stefanprodan/podinfo:6.4.0',
      '--mirror-base', server.url, '--dir', bundle,
    ];
    // OS packages need the distribution's package manager and repositories; this demo carries files only.
    const download = [fetchBin, 'download', '--no-os-packages'];
    const documentFile = join(out, 'fetched.json');
    say(`upstream: ${server.url} serves stand-ins for dl.k8s.io, GitHub releases, get.helm.sh, raw.githubusercontent.com and a chart repository`);
    say(`$ ag-fetch plan --kubernetes-version v1.27.3 --arch amd64 --os fedora-37 --cni flannel@v0.22.0 \\`);
    say(`    --chart …/podinfo@6.4.0 --image ghcr.io/stefanprodan/podinfo:6.4.0 --mirror-base ${server.url} --dir ${bundle} \\`);
    say(`  | ag-fetch download --no-os-packages > ${documentFile}`);
    say();
    // Loopback never goes through a proxy the operator's shell may name.
    const env = { ...process.env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' };
    const [planCode, downloadCode] = await pipeline(plan, download, documentFile, env);
    if (planCode !== 0 || downloadCode !== 0) throw new Error(`the pipeline failed: plan exited ${planCode}, download exited ${downloadCode}`);
    const document = validateDocument(JSON.parse(await readFile(documentFile, 'utf8')), documentFile);
    if (!options.quiet) summarise(document, out);
    return { out, document, elapsedMs: Date.now() - started };
  } finally {
    await server.close();
  }
}

function summarise(document: AgDocument, out: string): void {
  const fetch = document.fetch!;
  say();
  say(`Kubernetes ${document.cluster!.kubernetesVersion} for ${document.cluster!.architectures.join(', ')} on ${document.cluster!.os}, flannel ${document.cluster!.cni.version}`);
  say();
  say(`files (${fetch.files.length}, stand-in bytes), in ${document.root}:`);
  for (const file of fetch.files) {
    say(`  ${file.path.padEnd(56)} ${formatBytes(file.size ?? 0).padStart(9)}  sha256 ${file.sha256!.slice(0, 12)}…  (${file.sha256From})`);
  }
  say();
  say(`images (${fetch.images.length}), control-plane list from ${fetch.imageList.source}:`);
  for (const image of fetch.images) say(`  ${image.ref.padEnd(56)} ${image.role}`);
  say();
  say(`document: ${join(out, 'fetched.json')} (next stages read it on stdin)`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const result = await runDemo(values.out === undefined ? {} : { out: values.out });
  say(`done in ${(result.elapsedMs / 1000).toFixed(1)} s`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      say(`demo failed: ${(error as Error).message}`);
      process.exitCode = 1;
    },
  );
}
