import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, writeTree } from './test-helpers.js';
import { discoverTools, toolsReadme } from './tools.js';

describe('discoverTools', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    work = await tempDir('ag-bundle-tools-');
    // The layout npm run build writes (dist/tools) and the bundle carries (tools/): <arch>/ag, ag-*.mjs.
    await writeTree(join(work.path, 'built'), {
      'amd64/ag': 'the amd64 executable',
      'amd64/build.json': JSON.stringify({ node: 'v24.22.3' }),
      'arm64/ag': 'the arm64 executable',
      'ag-bundle.mjs': 'bundle',
      'ag-fetch.mjs': 'fetch',
      'notes.txt': 'not a tool',
      's390x/ag': 'no executable is built for s390x',
      'share/man/man1/ag-fetch.1': '.TH AG\\-FETCH 1',
      'share/bash-completion/completions/ag-fetch': 'complete -F _ag_fetch ag-fetch',
    });
    await writeTree(join(work.path, 'empty'), { 'README.txt': 'nothing here' });
  });
  afterAll(async () => work.cleanup());

  it('finds each architecture\'s executable as tools/<arch>/ag with its Node.js, and the .mjs files as tools/ag-X.mjs', async () => {
    const dir = join(work.path, 'built');
    expect(await discoverTools(dir)).toEqual([
      { name: 'ag', source: join(dir, 'amd64', 'ag'), bundlePath: 'tools/amd64/ag', arch: 'amd64', node: 'v24.22.3' },
      // No build.json beside it and this process is not that executable: the version is not known.
      { name: 'ag', source: join(dir, 'arm64', 'ag'), bundlePath: 'tools/arm64/ag', arch: 'arm64' },
      { name: 'ag-bundle', source: join(dir, 'ag-bundle.mjs'), bundlePath: 'tools/ag-bundle.mjs' },
      { name: 'ag-fetch', source: join(dir, 'ag-fetch.mjs'), bundlePath: 'tools/ag-fetch.mjs' },
      // The build's man pages and completion scripts, for ag-nodeprep to install.
      { name: 'bash-completion/completions/ag-fetch', source: join(dir, 'share/bash-completion/completions/ag-fetch'), bundlePath: 'tools/share/bash-completion/completions/ag-fetch', shellFile: true },
      { name: 'man/man1/ag-fetch.1', source: join(dir, 'share/man/man1/ag-fetch.1'), bundlePath: 'tools/share/man/man1/ag-fetch.1', shellFile: true },
    ]);
  });

  it('refuses a directory without tools, saying what it looked for', async () => {
    await expect(discoverTools(join(work.path, 'empty'))).rejects.toMatchObject({ kind: 'missing', message: expect.stringContaining('<arch>/ag') });
  });

  it('writes a README that runs the executable by the tool name and checks it with openssl and sha256sum', async () => {
    const readme = toolsReadme(await discoverTools(join(work.path, 'built')));
    expect(readme).toContain('tools/amd64/ag   linux/amd64, Node.js v24.22.3');
    expect(readme).toContain('tools/amd64/ag bundle verify bundle.tar --key PUB.pem');
    expect(readme).toContain("grep ' tools/amd64/ag$' SHA256SUMS | sha256sum --strict -c");
    expect(readme).toContain('node tools/ag-fetch.mjs --help');
    expect(readme).not.toContain('node tools/share');
    expect(readme).toContain('ag-nodeprep apply installs them');
    expect(toolsReadme([{ name: 'ag-x', source: '/x', bundlePath: 'tools/ag-x.mjs' }])).not.toContain('tools/<arch>/ag');
  });
});
