import { describe, expect, it } from 'vitest';
import { runTool, type ToolDefinition } from './cli.js';
import { sharedOption } from './cli/vocabulary.js';
import { readDocument, writeDocument } from './document/read-write.js';
import { newDocument } from './document/schema.js';
import { MissingError, withContext } from './errors.js';
import { registryStatusError } from './registry/errors.js';
import { createTestIo } from './testing/io.js';

const tool: ToolDefinition = {
  name: 'ag-demo',
  version: '0.0.0-test',
  configure: (parser) =>
    parser
      .command('echo', 'pass the document through')
      .command('fail', 'fail with a missing artifact')
      .command('boom', 'throw a plain error')
      .command('count', 'take a number', (y) => y.option('times', { type: 'number' }))
      .option('label', { type: 'string', requiresArg: true })
      .example('ag-demo echo < doc.json', 'pass it on'),
  handlers: {
    echo: async ({ io, args, log }) => {
      const doc = (await readDocument(io, { required: false, inPath: args.in })) ?? newDocument();
      log.info(`label=${String(args['label'])}`);
      writeDocument(io, { ...doc, x: args['label'] } as never, args.pretty);
    },
    fail: async () => {
      throw new MissingError('pulling registry.k8s.io/pause:3.9: blob sha256:abc is not in the layout', { hint: 'pull it again' });
    },
    boom: async () => {
      throw new Error('kaboom');
    },
    count: async ({ args, log }) => log.info(`times=${String(args['times'])}`),
  },
};

describe('runTool', () => {
  it('writes the document, and only the document, to stdout', async () => {
    const io = createTestIo({ stdin: '' });
    expect(await runTool(tool, ['echo', '--label', 'a'], io)).toBe(0);
    expect(JSON.parse(io.stdoutText())).toMatchObject({ kind: 'Cluster', x: 'a' });
    expect(io.stderrText()).toContain('ag-demo: label=a');
  });

  it('prints help with examples on stdout and exits 0', async () => {
    const io = createTestIo();
    expect(await runTool(tool, ['--help'], io)).toBe(0);
    expect(io.stdoutText()).toContain('ag-demo echo < doc.json');
    expect(io.stdoutText()).toContain('--log-format');
  });

  it('exits 2 on an unknown flag with one line and where the help is, not the help, and nothing on stdout', async () => {
    const io = createTestIo();
    expect(await runTool(tool, ['echo', '--lable', 'x'], io)).toBe(2);
    expect(io.stdoutText()).toBe('');
    expect(io.stderrText()).toBe('ag-demo: error: unknown option --lable; did you mean --label?\nag-demo: error: next: see ag-demo echo --help\n');
    const far = createTestIo();
    expect(await runTool(tool, ['echo', '--zzzzzz'], far)).toBe(2);
    expect(far.stderrText()).toContain('unknown option --zzzzzz\n');
  });

  it('says which command was meant, and which there are', async () => {
    const io = createTestIo();
    expect(await runTool(tool, [], io)).toBe(2);
    expect(io.stderrText()).toBe('ag-demo: error: no command given: one of echo, fail, boom, count, completion\nag-demo: error: next: see ag-demo --help\n');
    const typo = createTestIo();
    expect(await runTool(tool, ['ecoh'], typo)).toBe(2);
    expect(typo.stderrText()).toContain('unknown command "ecoh"; did you mean echo?');
  });

  it('names a number flag given something else, and the value', async () => {
    const io = createTestIo();
    expect(await runTool(tool, ['count', '--times', 'lots'], io)).toBe(2);
    expect(io.stderrText()).toContain('ag-demo: error: --times takes a number, not "lots"');
    expect(io.stderrText()).not.toContain('NaN');
    const ok = createTestIo();
    expect(await runTool(tool, ['count', '--times=3'], ok)).toBe(0);
    expect(ok.stderrText()).toContain('times=3');
  });

  it('says a missing value, a missing option and a wrong choice in one line each, in JSON too', async () => {
    const io = createTestIo();
    expect(await runTool(tool, ['echo', '--label'], io)).toBe(2);
    expect(io.stderrText()).toContain('error: --label needs a value\n');
    const choice = createTestIo();
    expect(await runTool(tool, ['echo', '--log-format', 'xml'], choice)).toBe(2);
    expect(choice.stderrText()).toContain('error: --log-format "xml" is not one of text, json\n');
    const json = createTestIo();
    expect(await runTool(tool, ['echo', '--nope', '--log-format', 'json'], json)).toBe(2);
    const [line] = json.stderrText().trim().split('\n');
    expect(JSON.parse(line!)).toMatchObject({ level: 'error', msg: 'unknown option --nope', code: 'AG_USAGE', exitCode: 2 });
  });

  it('maps a typed error to its exit code and prints what to do next', async () => {
    const io = createTestIo();
    expect(await runTool(tool, ['fail'], io)).toBe(5);
    expect(io.stderrText()).toContain('ag-demo: error: pulling registry.k8s.io/pause:3.9: blob sha256:abc is not in the layout');
    expect(io.stderrText()).toContain('next: pull it again');
  });

  it('logs JSON lines with --log-format json', async () => {
    const io = createTestIo();
    expect(await runTool(tool, ['fail', '--log-format', 'json'], io)).toBe(5);
    const first = JSON.parse(io.stderrText().split('\n')[0]!);
    expect(first).toMatchObject({ level: 'error', tool: 'ag-demo', code: 'AG_MISSING', exitCode: 5 });
  });

  it('says an error in one JSON object with --log-format json: exit code, the precise code, the path, the hint', async () => {
    const full: ToolDefinition = {
      ...tool,
      handlers: {
        full: async () => {
          const enospc = Object.assign(new Error("ENOSPC: no space left on device, write '/srv/ag/files/kubelet'"), { code: 'ENOSPC', errno: -28, syscall: 'write', path: '/srv/ag/files/kubelet' });
          throw withContext('downloading kubelet', enospc);
        },
        refused: async () => {
          const refused = registryStatusError('starting the upload', 401, {}, '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}', 'registry.internal:5000', { username: 'ag', source: '--credentials-file /etc/ag/creds' });
          throw withContext('pushing registry.k8s.io/pause:3.9', refused, { reference: 'registry.k8s.io/pause:3.9' });
        },
      },
      configure: (parser) => tool.configure(parser).command('full', 'disk full').command('refused', 'credentials refused'),
    };
    const io = createTestIo();
    expect(await runTool(full, ['full', '--log-format', 'json'], io)).toBe(6);
    const lines = io.stderrText().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'error',
      msg: "downloading kubelet: ENOSPC: no space left on device, write '/srv/ag/files/kubelet'",
      exitCode: 6,
      code: 'ENOSPC',
      kind: 'AG_SYSTEM',
      path: '/srv/ag/files/kubelet',
      hint: 'free disk space (or choose another directory) and run again',
    });
    const refused = createTestIo();
    expect(await runTool(full, ['refused', '--log-format', 'json'], refused)).toBe(8);
    expect(JSON.parse(refused.stderrText().trim())).toMatchObject({ exitCode: 8, code: 'UNAUTHORIZED', kind: 'AG_CREDENTIALS', reference: 'registry.k8s.io/pause:3.9', registry: 'registry.internal:5000', source: '--credentials-file /etc/ag/creds' });
    // Text stays two lines: the error, then what to do.
    const text = createTestIo();
    expect(await runTool(full, ['full'], text)).toBe(6);
    expect(text.stderrText()).toBe("ag-demo: error: downloading kubelet: ENOSPC: no space left on device, write '/srv/ag/files/kubelet'\nag-demo: error: next: free disk space (or choose another directory) and run again\n");
  });

  it('reports an unexpected error as internal, with a stack only under --debug', async () => {
    const plain = createTestIo();
    expect(await runTool(tool, ['boom'], plain)).toBe(1);
    expect(plain.stderrText()).not.toContain('at ');
    const debug = createTestIo();
    expect(await runTool(tool, ['boom', '--debug'], debug)).toBe(1);
    expect(debug.stderrText()).toMatch(/Error: kaboom\n\s+at /);
  });

  it('takes a retired flag as its new name, saying so once on stderr', async () => {
    const kubeadm: ToolDefinition = {
      name: 'ag-kubeadm',
      version: '0',
      configure: (parser) => parser.command('config', 'c').option('root', sharedOption('root', undefined, { default: '/' })),
      handlers: { config: async ({ args, log }) => log.info(`root=${String(args['root'])}`) },
    };
    const io = createTestIo();
    expect(await runTool(kubeadm, ['config', '--host-root', '/mnt/node'], io)).toBe(0);
    expect(io.stderrText()).toBe('ag-kubeadm: warn: --host-root is deprecated: use --root (same meaning; the old name will go)\nag-kubeadm: root=/mnt/node\n');
    const help = createTestIo();
    expect(await runTool(kubeadm, ['config', '--help'], help)).toBe(0);
    expect(help.stdoutText()).toContain('--root');
    expect(help.stdoutText()).not.toContain('host-root');
  });

  it('reports an empty stdin when the document is required', async () => {
    const required: ToolDefinition = {
      ...tool,
      handlers: { echo: async ({ io }) => void (await readDocument(io, { required: true })) },
    };
    const io = createTestIo({ stdin: '' });
    expect(await runTool(required, ['echo'], io)).toBe(2);
    expect(io.stderrText()).toContain('no document on stdin: the stage before this one produced nothing — did it fail?');
    expect(io.stderrText()).toContain('set -o pipefail');
  });
});
