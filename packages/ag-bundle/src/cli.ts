import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import {
  bundleRoot,
  newDocument,
  outputMode,
  reportPlannedActions,
  processIo,
  readDocument,
  runTool,
  UsageError,
  validateDocument,
  writeFileAtomic,
  type AgDocument,
  type CommandContext,
  type Io,
} from '@ag/core';
import { openBundleInput } from './input.js';
import { inspectBundle, renderInspectReport } from './inspect.js';
import { takeInventory } from './inventory.js';
import { packBundle } from './pack.js';
import { generateKeyPair, loadPublicKey, SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from './signing.js';
import { parseSize } from './size.js';
import { DOCUMENT_FILE } from './sums.js';
import { unpackBundle } from './unpack.js';
import { assertNoProblems, verifyBundle } from './verify.js';
import { summaries } from './summary.js';

const VERSION = '0.1.0';

type Context = CommandContext<Record<string, unknown>>;

/**
 * yargs drops a lone `-` given as a positional (and turns one given as an
 * option's value into ''): https://github.com/yargs/yargs/issues/1312,
 * https://github.com/yargs/yargs-parser/issues/381. main() hands it over
 * as this stand-in instead, which no file name can be (it holds a NUL), and
 * the handlers turn it back into `-`.
 */
const DASH = '\u0000-';

function undash(value: string): string {
  return value === DASH ? '-' : value;
}

function stringArg(args: Record<string, unknown>, name: string): string | undefined {
  const value = args[name];
  return typeof value === 'string' && value !== '' ? undash(value) : undefined;
}

function bundleArgs(args: Record<string, unknown>): string[] {
  const value = args['bundle'];
  return (Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : []).map(undash);
}

function writeJson(io: Io, value: unknown, pretty: boolean): void {
  io.stdout.write(`${JSON.stringify(value, null, pretty ? 2 : undefined)}\n`);
}

/** The document to pack: stdin or --in; else the root's own bundle.json (packing an unpacked bundle again); else a new one. */
async function packDocument(context: Context): Promise<{ document: AgDocument; dir: string }> {
  const { io, args } = context;
  const piped = await readDocument(io, { required: false, inPath: stringArg(args, 'in') });
  const dir = bundleRoot(piped, stringArg(args, 'dir'), io.cwd);
  if (piped !== undefined) return { document: piped, dir };
  const own = await readFile(join(dir, DOCUMENT_FILE), 'utf8').catch(() => undefined);
  if (own === undefined) return { document: newDocument(), dir };
  try {
    return { document: validateDocument(JSON.parse(own), join(dir, DOCUMENT_FILE)), dir };
  } catch {
    context.log.warn(`${join(dir, DOCUMENT_FILE)} is not a valid document; packing with a new one`);
    return { document: newDocument(), dir };
  }
}

async function keyFrom(args: Record<string, unknown>, io: Io) {
  const key = stringArg(args, 'key');
  return key === undefined ? undefined : loadPublicKey(resolve(io.cwd, key));
}

function configure(parser: Argv): Argv {
  return parser
    .usage('$0 <command> [options]\n\nThe physical transfer: pack a bundle root into one signed tar (or media-sized parts), verify it, unpack it safely, carry only what the far side lacks.')
    .command('pack', 'pack a bundle root into one uncompressed tar (or parts), with SHA256SUMS and a signature', (y) =>
      y
        .option('dir', { type: 'string', describe: 'the bundle root (default: the document\'s root)', requiresArg: true })
        .option('out', { type: 'string', describe: 'the bundle to write, FILE.tar', demandOption: true, requiresArg: true })
        .option('split', { type: 'string', describe: 'split into parts of SIZE (700M, 4G, 25G, 4700MB) plus a signed parts list', requiresArg: true })
        .option('sign-key', { type: 'string', describe: 'PEM private key to sign SHA256SUMS with (ag-bundle keygen makes one); required unless --unsigned', requiresArg: true })
        .option('unsigned', { type: 'boolean', default: false, describe: 'carry the bundle unsigned: its checksums then prove it intact, not who made it' })
        .option('have', { type: 'string', describe: 'an inventory of the far side (ag-bundle inventory): carry only what it lacks', requiresArg: true })
        .option('tools', { type: 'string', describe: 'where the built ag tools (ag-*.mjs) are (default: this build\'s)', requiresArg: true })
        .option('no-tools', { type: 'boolean', describe: 'carry no ag tools in tools/' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'say what would be written (on stderr), write nothing; the document passes through' }),
    )
    .command('verify <bundle..>', 'check a bundle (FILE.tar, its parts, or - for stdin) without unpacking it', (y) =>
      y
        .positional('bundle', { type: 'string', array: true, describe: 'FILE.tar, FILE.tar.000 FILE.tar.001 …, FILE.tar.parts, or -' })
        .option('key', { type: 'string', describe: 'PEM public key: require and check a signature by it', requiresArg: true }),
    )
    .command('unpack <bundle..>', 'verify while extracting into a temporary directory, then rename it to DIR', (y) =>
      y
        .positional('bundle', { type: 'string', array: true, describe: 'FILE.tar, its parts, FILE.tar.parts, or -' })
        .option('dir', { type: 'string', describe: 'where the bundle goes', demandOption: true, requiresArg: true })
        .option('key', { type: 'string', describe: 'PEM public key: require and check a signature by it', requiresArg: true })
        .option('replace', { type: 'boolean', default: false, describe: 'replace a different bundle already in DIR' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'verify and say what would happen (on stderr), write nothing; the carried document comes out' }),
    )
    .command('inspect <bundle..>', 'summarise a bundle (sizes, images, largest blobs): on a terminal to read; in a pipe on stderr, the document on stdout', (y) =>
      y
        .positional('bundle', { type: 'string', array: true, describe: 'FILE.tar, its parts, FILE.tar.parts, or -' })
        .option('top', { type: 'number', default: 10, describe: 'how many of the largest blobs to list' }),
    )
    .command('keygen', 'make a signing key pair (ECDSA P-256 or Ed25519), verifiable with openssl', (y) =>
      y
        .option('out', { type: 'string', describe: 'the private key to write (mode 0600); the public key goes to <stem>.pub.pem', demandOption: true, requiresArg: true })
        .option('public-out', { type: 'string', describe: 'where the public key goes instead', requiresArg: true })
        .option('algorithm', { choices: SIGNATURE_ALGORITHMS, default: 'ecdsa-p256-sha256' as SignatureAlgorithm, describe: 'the signature algorithm' })
        .option('force', { type: 'boolean', default: false, describe: 'replace an existing key pair' }),
    )
    .command('inventory', 'record what the far side already has (blobs, files with sha256), for pack --have', (y) =>
      y
        .option('dir', { type: 'string', describe: 'the far side\'s bundle root (an unpacked bundle)', demandOption: true, requiresArg: true })
        .option('out', { type: 'string', describe: 'write the inventory to FILE instead of stdout', requiresArg: true }),
    )
    .example('ag-images pull < doc.json | ag-bundle pack --out /media/usb/bundle.tar --sign-key key.pem > packed.json', 'pack the document\'s bundle root, signed')
    .example('ag-bundle pack --dir ./bundle --out bundle.tar --split 4480M --sign-key key.pem', 'parts that fit DVDs, and a signed list of them')
    .example('ag-bundle verify /media/usb/bundle.tar --key key.pub.pem', 'check everything before trusting anything (exit 3 names every bad file)')
    .example('ag-bundle unpack bundle.tar.* --dir /srv/ag --key key.pub.pem > doc.json', 'verify while extracting; the document comes out with paths valid here')
    .example('ag-bundle inspect bundle.tar > doc.json', 'what is inside, by directory and by image')
    .example('ag-bundle keygen --out key.pem', 'key.pem (keep it on the connected side) and key.pub.pem (carry it across once)')
    .example('ag-bundle inventory --dir /srv/ag --out inventory.json', 'on the far side: what it has, for the next trip')
    .example('ag-bundle pack --dir ./v1.27.4 --out delta.tar --have inventory.json --sign-key key.pem', 'on the connected side: carry only what is missing')
    .example('cat /media/dvd*/bundle.tar.* | ag-bundle unpack - --dir /srv/ag --key key.pub.pem > doc.json', 'the joined parts (or one tar) on stdin')
    .epilog('Exit codes: 0 done, 2 usage (pack without --sign-key or --unsigned, too), 3 verification failed (every bad file is named on stderr; a signature by another key, too), 5 missing (pack: anything the document plans that the root lacks), 6 no room. Without Node on the far side: see tools/README.txt inside the bundle.');
}

async function pack(context: Context): Promise<void> {
  const { io, args, log, progress } = context;
  const { document, dir } = await packDocument(context);
  const split = stringArg(args, 'split');
  const signKey = stringArg(args, 'sign-key');
  const have = stringArg(args, 'have');
  const tools = args['no-tools'] === true || args['tools'] === false ? false : stringArg(args, 'tools');
  const result = await packBundle({
    dir,
    out: resolve(io.cwd, stringArg(args, 'out')!),
    document,
    ...(split === undefined ? {} : { split: parseSize(split) }),
    ...(signKey === undefined ? {} : { signKey: resolve(io.cwd, signKey) }),
    unsigned: args['unsigned'] === true,
    ...(have === undefined ? {} : { have: resolve(io.cwd, have) }),
    ...(tools === undefined ? {} : { tools: tools === false ? false : resolve(io.cwd, tools) }),
    dryRun: args['dry-run'] === true,
    log,
    progress,
  });
  if (args['dry-run'] === true) {
    // The dry-run convention: the planned writes on stderr, the document passed on unchanged.
    reportPlannedActions(io, 'ag-bundle', result.actions, { files: result.files, carriedFiles: result.carriedFiles, reusedFiles: result.reusedFiles, absent: result.absent ?? [], bundle: result.document.bundle }, args['log-format']);
    context.emit(document);
    return;
  }
  context.emit(result.document);
}

async function verify(context: Context): Promise<void> {
  const { io, args, log, progress } = context;
  const key = await keyFrom(args, io);
  const input = await openBundleInput(bundleArgs(args), io);
  const report = await verifyBundle(input, { ...(key === undefined ? {} : { key }), log, progress });
  assertNoProblems(report.archive, report.problems, log, 'verifying');
  log.info(`${report.archive}: ${report.payloadFiles} file(s) and bundle.json, ${report.bytes} bytes, all match SHA256SUMS${report.reused > 0 ? `; ${report.reused} of them for the far side to supply (delta)` : ''}`);
  context.emit(report.document!);
}

async function unpack(context: Context): Promise<void> {
  const { io, args, log, progress } = context;
  const key = await keyFrom(args, io);
  const input = await openBundleInput(bundleArgs(args), io);
  const result = await unpackBundle(input, {
    dir: resolve(io.cwd, stringArg(args, 'dir')!),
    ...(key === undefined ? {} : { key }),
    replace: args['replace'] === true,
    dryRun: args['dry-run'] === true,
    log,
    progress,
  });
  if (result.status === 'would-unpack') {
    reportPlannedActions(io, 'ag-bundle', [{ action: 'unpack', path: result.dir, files: result.files, bytes: result.bytes, reused: result.reused }], {}, args['log-format']);
    // The carried document, as verify passes it on: nothing was unpacked, so no unpackedAt.
    const { unpackedAt: _unpackedAt, ...bundle } = result.document.bundle!;
    context.emit({ ...result.document, bundle });
    return;
  }
  context.emit(result.document);
}

async function inspect(context: Context): Promise<void> {
  const { io, args } = context;
  const input = await openBundleInput(bundleArgs(args), io);
  const top = Number(args['top'] ?? 10);
  if (!Number.isInteger(top) || top < 0) throw new UsageError('--top must be a whole number');
  const report = await inspectBundle(input, top);
  // The report is the summary: on a terminal (or --output table) it takes stdout; beside the document it goes to stderr.
  const asTable = outputMode(args, io.stdout) === 'table';
  (asTable ? io.stdout : io.stderr).write(renderInspectReport(report));
  if (report.document === undefined) {
    throw new UsageError(`${report.archive} carries no readable ${DOCUMENT_FILE}: not an ag bundle, or damaged`, { hint: 'run ag-bundle verify on it' });
  }
  if (!asTable) context.emit(report.document);
}

async function keygen(context: Context): Promise<void> {
  const { io, args, log } = context;
  const publicOut = stringArg(args, 'public-out');
  const result = await generateKeyPair({
    out: resolve(io.cwd, stringArg(args, 'out')!),
    ...(publicOut === undefined ? {} : { publicOut: resolve(io.cwd, publicOut) }),
    algorithm: args['algorithm'] as SignatureAlgorithm,
    force: args['force'] === true,
  });
  log.info(`wrote ${result.privateKey} (keep it on the connected side) and ${result.publicKey} (carry it across once); fingerprint ${result.fingerprint}`);
  writeJson(io, result, args.pretty);
}

async function inventory(context: Context): Promise<void> {
  const { io, args, log, progress } = context;
  const task = progress.task('hashing files', 0);
  const result = await takeInventory({ dir: resolve(io.cwd, stringArg(args, 'dir')!), progress: task }).finally(() => task.done());
  const text = `${JSON.stringify(result, null, args.pretty ? 2 : undefined)}\n`;
  const out = stringArg(args, 'out');
  const blobs = result.layouts.reduce((sum, layout) => sum + layout.blobs.length, 0);
  if (out === undefined) io.stdout.write(text);
  else await writeFileAtomic(resolve(io.cwd, out), text);
  log.info(`inventory of ${result.root}: ${blobs} blob(s), ${result.files.length} other file(s)${out === undefined ? '' : `, written to ${out}`}`);
}

/** ag-bundle's command line, runnable in-process (tests pass their own io). */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const end = argv.indexOf('--');
  const dashed = argv.map((arg, index) => (arg === '-' && (end < 0 || index < end) ? DASH : arg));
  return runTool({ name: 'ag-bundle', version: VERSION, configure, handlers: { pack, verify, unpack, inspect, keygen, inventory }, summaries }, dashed, io);
}
