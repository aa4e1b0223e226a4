import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import {
  bundleRoot,
  MissingError,
  newDocument,
  outputMode,
  processIo,
  readDocument,
  runTool,
  UsageError,
  writeFileAtomic,
  sharedOption,
  type AgDocument,
  type CommandContext,
  type Io,
} from '@ag/core';
import { checkSiteName, defaultStateDir, ledgerPath } from './ledger-path.js';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from './signature-algorithms.js';
import { parseSize } from './size.js';
import { DOCUMENT_FILE } from './sums.js';
import { summaries } from './summary.js';
import { VERSION } from './version.js';


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
  const { validateDocument } = await import('@ag/core/validate');
  try {
    return { document: validateDocument(JSON.parse(own), join(dir, DOCUMENT_FILE)), dir };
  } catch {
    context.log.warn(`${join(dir, DOCUMENT_FILE)} is not a valid document; packing with a new one`);
    return { document: newDocument(), dir };
  }
}

async function keyFrom(args: Record<string, unknown>, io: Io) {
  const key = stringArg(args, 'key');
  if (key === undefined) return undefined;
  const { loadPublicKey } = await import('./signing.js');
  return loadPublicKey(resolve(io.cwd, key));
}

function configure(parser: Argv): Argv {
  return parser
    .usage('$0 <command> [options]\n\nThe physical transfer: pack a bundle root into one signed tar (or media-sized parts), verify it, unpack it safely, carry only what the far side lacks.')
    .command('pack', 'pack a bundle root into one uncompressed tar (or parts), with SHA256SUMS and a signature', (y) =>
      y
        .option('dir', sharedOption('dir', "(default: the document's root)"))
        .option('out', { type: 'string', describe: 'the bundle to write, FILE.tar', demandOption: true, requiresArg: true })
        .option('split', { type: 'string', describe: 'split into parts of SIZE (700M, 4G, 25G, 4700MB) plus a signed parts list', requiresArg: true })
        .option('sign-key', { type: 'string', describe: 'PEM private key to sign SHA256SUMS with (ag-bundle keygen makes one); required unless --unsigned', requiresArg: true })
        .option('unsigned', { type: 'boolean', default: false, describe: 'carry the bundle unsigned: its checksums then prove it intact, not who made it' })
        .option('have', { type: 'string', describe: 'an inventory of the far side (ag-bundle inventory): carry only what it lacks', requiresArg: true })
        .option('site', { type: 'string', describe: "pack for site NAME over a one-way link: carry only what its ledger says it was not sent, and record this bundle there", requiresArg: true })
        .option('full', { type: 'boolean', default: false, describe: 'with --site: a complete bundle, whatever the site was sent' })
        .option('require-scan', { type: 'boolean', default: false, describe: 'refuse unless every file and image was scanned (ag-bundle scan) as it is now, and every finding is accepted' })
        .option('accept', { type: 'string', array: true, describe: 'with --require-scan: let finding ID cross (repeat; each needs a --reason, in the same order)', requiresArg: true })
        .option('reason', { type: 'string', array: true, describe: 'why the --accept at the same position may cross (recorded in the bundle)', requiresArg: true })
        .option('state-dir', sharedOption('state-dir', "the sites' ledgers, DIR/sites/NAME/ledger.jsonl (default: $XDG_STATE_HOME/ag or ~/.local/state/ag)"))
        .option('tools', { type: 'string', describe: 'where the built ag tools (ag-*.mjs) are (default: this build\'s)', requiresArg: true })
        .option('no-tools', { type: 'boolean', describe: 'carry no ag tools in tools/' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'say what would be written (on stderr), write nothing; the document passes through' }),
    )
    .command('scan', 'run a scanner over every file and image of the bundle root; record per item the scanner, its database and the result', (y) =>
      y
        .option('dir', { type: 'string', describe: 'the bundle root (default: the document\'s root)', requiresArg: true })
        .option('with', { type: 'string', describe: 'the scanner command; each item\'s path is appended (or put where {} is); images are OCI layouts', demandOption: true, requiresArg: true })
        .option('json', { type: 'boolean', default: false, describe: 'read the scanner\'s JSON (findings[].id, trivy, grype) instead of its exit code (0 clean, 1 found)' })
        .option('database-version', { type: 'string', describe: 'the database version to record, when the scanner\'s --version does not say it', requiresArg: true }),
    )
    .command('verify <bundle..>', 'check a bundle (FILE.tar, its parts, or - for stdin) without unpacking it', (y) =>
      y
        .positional('bundle', { type: 'string', array: true, describe: 'FILE.tar, FILE.tar.000 FILE.tar.001 …, FILE.tar.parts, or -' })
        .option('key', { type: 'string', describe: 'PEM public key: require and check a signature by it', requiresArg: true }),
    )
    .command('unpack <bundle..>', 'verify while extracting into a temporary directory, then rename it to DIR', (y) =>
      y
        .positional('bundle', { type: 'string', array: true, describe: 'FILE.tar, its parts, FILE.tar.parts, or -' })
        .option('dir', sharedOption('dir', 'where the bundle goes', { demandOption: true }))
        .option('key', { type: 'string', describe: 'PEM public key: require and check a signature by it', requiresArg: true })
        .option('replace', { type: 'boolean', default: false, describe: 'replace a different bundle already in DIR' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'verify and say what would happen (on stderr), write nothing; the carried document comes out' }),
    )
    .command('inspect <bundle..>', 'summarise a bundle (sizes, images, largest blobs): on a terminal to read; in a pipe on stderr, the document on stdout', (y) =>
      y
        .positional('bundle', { type: 'string', array: true, describe: 'FILE.tar, its parts, FILE.tar.parts, or -' })
        .option('top', { type: 'number', default: 10, describe: 'how many of the largest blobs to list' })
        .option('sbom', { type: 'boolean', default: false, describe: 'print the bundle\'s CycloneDX SBOM (sbom.cdx.json) on stdout instead of the document' }),
    )
    .command('report <bundle..>', 'write the approver\'s page (self-contained HTML, and a Markdown twin): what crosses, sizes, versions, changes, scans, signature', (y) =>
      y
        .positional('bundle', { type: 'string', array: true, describe: 'FILE.tar, its parts, or FILE.tar.parts' })
        .option('out', { type: 'string', describe: 'the page to write, FILE.html (FILE.md beside it)', demandOption: true, requiresArg: true })
        .option('state-dir', sharedOption('state-dir', "the sites' ledgers, for what changed since the site's last bundle (default: $XDG_STATE_HOME/ag or ~/.local/state/ag)")),
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
        .option('dir', sharedOption('dir', "(the far side's: an unpacked bundle)", { demandOption: true }))
        .option('out', { type: 'string', describe: 'write the inventory to FILE instead of stdout', requiresArg: true }),
    )
    .example('ag-images pull < doc.json | ag-bundle pack --out /media/usb/bundle.tar --sign-key key.pem > packed.json', 'pack the document\'s bundle root, signed')
    .example('ag-bundle pack --dir ./bundle --out bundle.tar --split 4480M --sign-key key.pem', 'parts that fit DVDs, and a signed list of them')
    .example('ag-bundle verify /media/usb/bundle.tar --key key.pub.pem', 'check everything before trusting anything (exit 3 names every bad file)')
    .example('ag-bundle unpack bundle.tar.* --dir /srv/ag --key key.pub.pem > doc.json', 'verify while extracting; the document comes out with paths valid here')
    .example('ag-bundle inspect bundle.tar > doc.json', 'what is inside, by directory and by image')
    .example('ag-bundle inspect bundle.tar --sbom > sbom.cdx.json', 'its CycloneDX bill of materials (covered by the signature)')
    .example('ag-bundle scan --with "clamscan -r --no-summary" < doc.json | ag-bundle pack --require-scan --out b.tar --sign-key key.pem', 'nothing crosses unscanned: every file and image scanned, every finding accepted or refused')
    .example('ag-bundle report trip3.tar --out trip3.html', 'for the change board: trip3.html and trip3.md')
    .example('ag-bundle keygen --out key.pem', 'key.pem (keep it on the connected side) and key.pub.pem (carry it across once)')
    .example('ag-bundle inventory --dir /srv/ag --out inventory.json', 'on the far side: what it has, for the next trip')
    .example('ag-bundle pack --dir ./v1.27.4 --out delta.tar --have inventory.json --sign-key key.pem', 'on the connected side: carry only what is missing')
    .example('ag-bundle pack --dir ./v1.27.4 --out trip3.tar --site plant-a --sign-key key.pem', 'over a data diode: carry what plant-a was not sent yet (its ledger says), naming the bundles it builds on')
    .example('cat /media/dvd*/bundle.tar.* | ag-bundle unpack - --dir /srv/ag --key key.pub.pem > doc.json', 'the joined parts (or one tar) on stdin')
    .epilog('Exit codes: 0 done, 2 usage (pack without --sign-key or --unsigned, too), 3 verification failed (every bad file is named on stderr; a signature by another key, and a site ledger edited or cut, too), 5 missing (pack: anything the document plans that the root lacks, and with --require-scan an item not scanned or a finding not accepted; unpack: the bundles a site delta builds on), 6 no room. Without Node on the far side: see tools/README.txt inside the bundle.');
}

async function pack(context: Context): Promise<void> {
  const { packBundle } = await import('./pack.js');
  const { io, args, log, progress } = context;
  const { document, dir } = await packDocument(context);
  const split = stringArg(args, 'split');
  const signKey = stringArg(args, 'sign-key');
  const have = stringArg(args, 'have');
  const tools = args['no-tools'] === true || args['tools'] === false ? false : stringArg(args, 'tools');
  const site = siteOption(args, io);
  const result = await packBundle({
    ...(site === undefined ? {} : { site }),
    requireScan: args['require-scan'] === true,
    accept: acceptOption(args),
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
    context.reportPlanned(result.actions, { files: result.files, carriedFiles: result.carriedFiles, reusedFiles: result.reusedFiles, absent: result.absent ?? [], bundle: result.document.bundle });
    context.emit(document);
    return;
  }
  context.emit(result.document);
}

/** --accept ID --reason TEXT pairs, by position. */
function acceptOption(args: Record<string, unknown>): { id: string; reason: string }[] {
  const ids = ((args['accept'] as unknown[] | undefined) ?? []).map(String);
  const reasons = ((args['reason'] as unknown[] | undefined) ?? []).map(String);
  if (ids.length !== reasons.length || reasons.some((reason) => reason.trim() === '')) {
    throw new UsageError(`${ids.length} --accept but ${reasons.length} --reason: each accepted finding needs its reason`, { hint: 'e.g. --accept CVE-2023-1234 --reason "not reachable: the binary is never run"' });
  }
  if (ids.length > 0 && args['require-scan'] !== true) throw new UsageError('--accept goes with --require-scan');
  return ids.map((id, index) => ({ id, reason: reasons[index]! }));
}

/** --site NAME (with --full, --state-dir): the site's ledger to read and extend. */
function siteOption(args: Record<string, unknown>, io: Io): { name: string; ledger: string; full: boolean } | undefined {
  const name = stringArg(args, 'site');
  const full = args['full'] === true;
  const stateDir = stringArg(args, 'state-dir');
  if (name === undefined) {
    if (full || stateDir !== undefined) throw new UsageError(`--${full ? 'full' : 'state-dir'} goes with --site NAME`);
    return undefined;
  }
  if (full && stringArg(args, 'have') !== undefined) throw new UsageError('--full and --have contradict each other', { hint: 'pass one of them' });
  checkSiteName(name);
  return { name, ledger: ledgerPath(name, stateDir === undefined ? defaultStateDir(io.env) : resolve(io.cwd, stateDir)), full };
}

async function scan(context: Context): Promise<void> {
  const { scanRoot } = await import('./scan-gate.js');
  const { args, log } = context;
  const { document, dir } = await packDocument(context);
  const databaseVersion = stringArg(args, 'database-version');
  const result = await scanRoot({
    root: dir,
    command: stringArg(args, 'with')!,
    json: args['json'] === true,
    ...(databaseVersion === undefined ? {} : { databaseVersion }),
    ...(document.scan === undefined ? {} : { previous: document.scan }),
    log,
  });
  const flagged = result.items.filter((item) => item.result !== 'clean');
  log.info(`scanned ${result.items.length} item(s) of ${dir}: ${result.items.length - flagged.length} clean, ${flagged.filter((item) => item.result === 'found').length} with findings, ${flagged.filter((item) => item.result === 'error').length} failed`);
  context.emit({ ...document, root: dir, scan: result.section });
}

async function verify(context: Context): Promise<void> {
  const [{ openBundleInput }, { assertNoProblems, verifyBundle }] = await Promise.all([import('./input.js'), import('./verify.js')]);
  const { io, args, log, progress } = context;
  const key = await keyFrom(args, io);
  const input = await openBundleInput(bundleArgs(args), io);
  const report = await verifyBundle(input, { ...(key === undefined ? {} : { key }), log, progress });
  assertNoProblems(report.archive, report.problems, log, 'verifying');
  log.info(`${report.archive}: ${report.payloadFiles} file(s) and bundle.json, ${report.bytes} bytes, all match SHA256SUMS${report.reused > 0 ? `; ${report.reused} of them for the far side to supply (delta)` : ''}`);
  context.emit(report.document!);
}

async function unpack(context: Context): Promise<void> {
  const [{ openBundleInput }, { unpackBundle }] = await Promise.all([import('./input.js'), import('./unpack.js')]);
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
    context.reportPlanned([{ action: 'unpack', path: result.dir, files: result.files, bytes: result.bytes, reused: result.reused }]);
    // The carried document, as verify passes it on: nothing was unpacked, so no unpackedAt.
    const { unpackedAt: _unpackedAt, ...bundle } = result.document.bundle!;
    context.emit({ ...result.document, bundle });
    return;
  }
  context.emit(result.document);
}

async function inspect(context: Context): Promise<void> {
  const [{ openBundleInput }, { inspectBundle, renderInspectReport }] = await Promise.all([import('./input.js'), import('./inspect.js')]);
  const { io, args } = context;
  const input = await openBundleInput(bundleArgs(args), io);
  const top = Number(args['top'] ?? 10);
  if (!Number.isInteger(top) || top < 0) throw new UsageError('--top must be a whole number');
  const report = await inspectBundle(input, top);
  // The report is the summary: on a terminal (or --output table) it takes stdout; beside the document it goes to stderr.
  const asTable = outputMode(args, io.stdout) === 'table';
  if (args['sbom'] === true) {
    const { SBOM_FILE } = await import('./sbom.js');
    io.stderr.write(renderInspectReport(report));
    if (report.sbom === undefined) throw new MissingError(`${report.archive} carries no ${SBOM_FILE}`, { hint: 'it was packed by an ag-bundle older than the SBOM: pack it again' });
    io.stdout.write(report.sbom);
    return;
  }
  (asTable ? io.stdout : io.stderr).write(renderInspectReport(report));
  if (report.document === undefined) {
    throw new UsageError(`${report.archive} carries no readable ${DOCUMENT_FILE}: not an ag bundle, or damaged`, { hint: 'run ag-bundle verify on it' });
  }
  if (!asTable) context.emit(report.document);
}

async function report(context: Context): Promise<void> {
  const [{ openBundleInput }, { writeReport }] = await Promise.all([import('./input.js'), import('./report/index.js')]);
  const { io, args, log } = context;
  const input = await openBundleInput(bundleArgs(args), io);
  const stateDir = stringArg(args, 'state-dir');
  const figures = await writeReport(input, {
    out: resolve(io.cwd, stringArg(args, 'out')!),
    stateDir: stateDir === undefined ? defaultStateDir(io.env) : resolve(io.cwd, stateDir),
    log,
  });
  writeJson(io, figures, args.pretty);
}

async function keygen(context: Context): Promise<void> {
  const { io, args, log } = context;
  const { generateKeyPair } = await import('./signing.js');
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
  const { takeInventory } = await import('./inventory.js');
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
  return runTool({ name: 'ag-bundle', version: VERSION, configure, handlers: { pack, scan, verify, unpack, inspect, report, keygen, inventory }, summaries }, dashed, io);
}
