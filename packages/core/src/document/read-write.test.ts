import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { createTestIo } from '../testing/io.js';
import { readDocument, writeDocument } from './read-write.js';
import { API_VERSION, newDocument } from './schema.js';

const minimal = JSON.stringify({ apiVersion: API_VERSION, kind: 'Cluster' });

async function readError(stdin: string | undefined, required = true, inPath?: string): Promise<UsageError> {
  const io = createTestIo({ stdin });
  const error = await readDocument(io, { required, inPath }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UsageError);
  return error as UsageError;
}

describe('readDocument', () => {
  it('says that the stage before produced nothing when stdin is empty', async () => {
    const error = await readError('  \n');
    expect(error.message).toBe('no document on stdin: the stage before this one produced nothing — did it fail?');
    expect(error.hint).toContain('set -o pipefail');
    expect(error.exitCode).toBe(2);
  });

  it('returns nothing for an empty stdin when flags alone suffice, unless a pipe brought nothing', async () => {
    await expect(readDocument(createTestIo({ stdin: '' }), { required: false })).resolves.toBeUndefined();
    // `false | ag-images pull ref`: the same diagnosis as when the document is required, not the tool's own.
    const piped = await readDocument(createTestIo({ stdin: '', stdinIsPipe: true }), { required: false }).catch((e: unknown) => e);
    expect((piped as UsageError).message).toContain('no document on stdin');
  });

  it('accepts a byte-order mark before the document, on stdin and from --in', async () => {
    const bom = `\ufeff${minimal}`;
    expect(await readDocument(createTestIo({ stdin: bom }), { required: true })).toMatchObject({ kind: 'Cluster' });
    const dir = mkdtempSync(join(tmpdir(), 'ag-bom-'));
    writeFileSync(join(dir, 'doc.json'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(minimal)]));
    expect(await readDocument(createTestIo({ cwd: dir }), { required: false, inPath: 'doc.json' })).toMatchObject({ kind: 'Cluster' });
    writeFileSync(join(dir, 'empty.json'), '');
    expect((await readError(undefined, false, join(dir, 'empty.json'))).message).toContain('the file is empty');
  });

  it('never waits on a terminal', async () => {
    await expect(readDocument(createTestIo({ stdin: undefined }), { required: false })).resolves.toBeUndefined();
    expect((await readError(undefined)).message).toMatch(/stdin is a terminal/);
  });

  it('refuses an unknown apiVersion and lists the versions it reads', async () => {
    const error = await readError(JSON.stringify({ apiVersion: 'ag/v9', kind: 'Cluster' }));
    expect(error.message).toContain('"ag/v9"');
    expect(error.message).toContain(API_VERSION);
  });

  it('names the JSON path, the expectation and the value of every invalid field', async () => {
    const doc = {
      apiVersion: API_VERSION,
      kind: 'Cluster',
      fetch: {
        components: {},
        imageList: { source: 'table', detail: 'x' },
        files: [{ name: 'kubeadm', kind: 'binary', source: { url: 'u' }, path: 'files/kubeadm', sha256: 'abc' }],
        images: [],
      },
    };
    const error = await readError(JSON.stringify(doc));
    expect(error.message).toContain('$.fetch.files[0].sha256');
    expect(error.message).toContain('"abc"');
  });

  it('refuses non-JSON with the parser position', async () => {
    expect((await readError('{"apiVersion": ')).message).toMatch(/not valid JSON/);
  });

  it('keeps fields it does not know, so jq steps and other tools can sit between stages', async () => {
    const input = { apiVersion: API_VERSION, kind: 'Cluster', x_site: { rack: 7 }, cluster: undefined };
    const doc = await readDocument(createTestIo({ stdin: JSON.stringify(input) }), { required: true });
    const io = createTestIo();
    writeDocument(io, doc!);
    expect(JSON.parse(io.stdoutText())).toEqual({ apiVersion: API_VERSION, kind: 'Cluster', x_site: { rack: 7 } });
  });

  it('reads --in FILE, and - as stdin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ag-doc-'));
    writeFileSync(join(dir, 'doc.json'), minimal);
    await expect(readDocument(createTestIo({ cwd: dir }), { required: true, inPath: 'doc.json' })).resolves.toEqual(newDocument());
    await expect(readDocument(createTestIo({ stdin: minimal }), { required: true, inPath: '-' })).resolves.toEqual(newDocument());
    await expect(readDocument(createTestIo(), { required: true, inPath: join(dir, 'nope.json') })).rejects.toMatchObject({
      kind: 'missing',
      message: expect.stringContaining('nope.json'),
    });
  });
});

describe('writeDocument', () => {
  it('is compact by default and indented with --pretty, one line of JSON each', () => {
    const compact = createTestIo();
    writeDocument(compact, newDocument());
    expect(compact.stdoutText()).toBe(`${minimal}\n`);
    const pretty = createTestIo();
    writeDocument(pretty, newDocument(), true);
    expect(pretty.stdoutText()).toContain('\n  "kind": "Cluster"\n');
  });
});
