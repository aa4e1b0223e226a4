import { resolve } from 'node:path';
import {
  argString as str,
  credentialsForTarget,
  ExitCode,
  findCredentials,
  formatRegistryTarget,
  newDocument,
  parseRegistryTarget,
  readDocument,
  readPasswordFromStdin,
  registryTargetOf,
  UsageError,
  type AgDocument,
  type CommandContext,
  type Credentials,
  type RegistrySection,
  type RegistryTarget,
} from '@ag/core';
import { externalStatus } from './external-status.js';

type Context = CommandContext<Record<string, unknown>>;

/**
 * The document and what `--password-stdin` read: with that flag, stdin
 * carries the password and the document comes from `--in FILE` only.
 */
export async function documentAndPassword(context: Context): Promise<{ document: AgDocument | undefined; password: string | undefined }> {
  const { io, args } = context;
  if (args['password-stdin'] !== true) return { document: await readDocument(io, { required: false, inPath: args.in }), password: undefined };
  const password = await readPasswordFromStdin(io);
  const document = args.in === undefined || args.in === '-' ? undefined : await readDocument(io, { required: false, inPath: args.in });
  return { document, password };
}

/** Whether the document's registry section is about the registry on `host` (its own files then apply). */
export function documentNames(document: AgDocument | undefined, host: string): boolean {
  return document?.registry?.endpoint !== undefined && document.registry.endpoint.toLowerCase() === host.toLowerCase();
}

/**
 * The registry section after `trust` or `status` was pointed at `target`:
 * the document's own, with the prefix and files given, when it is about the
 * same host (the registry `up` started, now used under a prefix, say); else
 * a new section for the site's registry, marked external so that `up` and
 * `down` leave it alone.
 */
export function recordTarget(document: AgDocument | undefined, target: RegistryTarget, files: { caFile?: string; credentialsFile?: string }): RegistrySection {
  const known = documentNames(document, target.host) ? document!.registry! : undefined;
  const section: RegistrySection = known !== undefined ? { ...known } : { endpoint: target.host, external: true };
  delete section.prefix;
  if (target.prefix !== undefined) section.prefix = target.prefix;
  if (files.caFile !== undefined) section.caFile = files.caFile;
  if (files.credentialsFile !== undefined) section.credentialsFile = files.credentialsFile;
  return section;
}

/** `--ca-file` (relative to the working directory), else the document's CA file when it is about this registry; none: the system trust store. */
export function caFileFor(context: Context, document: AgDocument | undefined, target: RegistryTarget): string | undefined {
  const flag = str(context.args, 'ca-file');
  if (flag !== undefined) return resolve(context.io.cwd, flag);
  return documentNames(document, target.host) ? document?.registry?.caFile : undefined;
}

/** The target `--registry` names, else the document's registry section; a UsageError naming both when neither does. */
export function targetFrom(context: Context, document: AgDocument | undefined, what: string): { target: RegistryTarget; fromFlag: boolean } {
  const flag = str(context.args, 'registry');
  if (flag !== undefined) return { target: parseRegistryTarget(flag), fromFlag: true };
  const inDocument = registryTargetOf(document?.registry);
  if (inDocument === undefined) {
    throw new UsageError(`${what} needs the registry`, {
      hint: 'pipe the document ag-registry up wrote, or pass --registry HOST[:PORT][/PREFIX] [--ca-file FILE] [--credentials-file FILE] for a registry the site runs',
    });
  }
  return { target: inDocument, fromFlag: false };
}

/**
 * The credentials for the site's registry: `--username` with
 * `--password-stdin` (or the password in `--credentials-file`), the
 * credentials file, the document's (when it is about this registry), else the
 * auth files podman, skopeo and docker keep (a robot account stored by
 * `docker login`). `--no-credentials-file`: none.
 */
export async function siteCredentials(context: Context, document: AgDocument | undefined, target: RegistryTarget, password: string | undefined): Promise<Credentials | undefined> {
  const { args, io } = context;
  if (args['credentials-file'] === false) return undefined;
  const flagFile = str(args, 'credentials-file');
  const documentFile = documentNames(document, target.host) ? document?.registry?.credentialsFile : undefined;
  const file = flagFile !== undefined ? { path: resolve(io.cwd, flagFile), source: `--credentials-file ${resolve(io.cwd, flagFile)}` } : documentFile !== undefined ? { path: documentFile, source: `the document's registry.credentialsFile ${documentFile}` } : undefined;
  const username = str(args, 'username');
  return credentialsForTarget(target, { ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}), ...(file !== undefined ? { credentialsFile: file } : {}) }, io.env);
}

/**
 * What `trust` writes into hosts.toml for containerd's pulls: `--no-credentials-file`
 * nothing; `--username` (with `--password-stdin`); the `--credentials-file` file or
 * the document's (read then, refused unless 0600); for a registry named by
 * `--registry`, the auth files' entry for it (`host/prefix` before `host`: a
 * robot account `docker login` or `podman login` stored); else nothing.
 */
export async function trustCredentials(
  context: Context,
  document: AgDocument | undefined,
  target: RegistryTarget,
  fromFlag: boolean,
  password: string | undefined,
): Promise<{ credentialsFile?: string; credentials?: Credentials }> {
  const { args, io } = context;
  if (args['credentials-file'] === false) return {};
  if (str(args, 'username') !== undefined) return { credentials: (await siteCredentials(context, document, target, password))! };
  const flagFile = str(args, 'credentials-file');
  if (flagFile !== undefined) return { credentialsFile: resolve(io.cwd, flagFile) };
  const documentFile = documentNames(document, target.host) ? document?.registry?.credentialsFile : undefined;
  if (documentFile !== undefined) return { credentialsFile: documentFile };
  const found = fromFlag ? await findCredentials(target.host, target.prefix, io.env) : undefined;
  return found !== undefined ? { credentials: found } : {};
}

/**
 * `ag-registry status` for a registry ag-registry did not start: reports on
 * it from outside (externalStatus), records it in the document's registry
 * section with the result, and returns the exit code: 0 all there, 4
 * unreachable, 3 TLS not valid, 8 credentials refused, 5 images missing.
 */
export async function externalStatusCommand(context: Context, document: AgDocument | undefined, password: string | undefined): Promise<number> {
  const { io, log } = context;
  const { target } = targetFrom(context, document, 'status');
  const where = formatRegistryTarget(target);
  const caFile = caFileFor(context, document, target);
  const credentials = await siteCredentials(context, document, target, password);
  const refs = (document?.images?.images ?? []).map((image) => image.ref);
  const { status, failure } = await externalStatus({ target, caFiles: caFile !== undefined ? [caFile] : [], ...(credentials ? { credentials } : {}), refs, env: io.env, log });
  const section = recordTarget(document, target, { ...(caFile !== undefined ? { caFile } : {}) });
  context.emit({ ...(document ?? newDocument()), registry: { ...section, status } });
  const who = credentials === undefined ? 'anonymously' : `as ${JSON.stringify(credentials.username)} (${credentials.source})`;
  const tls = status.tls.notAfter !== undefined ? `TLS valid until ${status.tls.notAfter}` : 'TLS valid';
  switch (failure) {
    case undefined:
      log.info(`the registry ${where} answers ${who}: ${tls}${status.images ? `, all ${status.images.checked} image(s) of the bundle there` : ' (the document names no images to look for)'}`);
      return ExitCode.ok;
    case 'missing':
      log.error(`the registry ${where} answers ${who}, ${tls}, but ${status.images!.missing.length} of ${status.images!.checked} image(s) of the bundle are not there: ${status.images!.missing.slice(0, 10).join(', ')}${status.images!.missing.length > 10 ? ', …' : ''}`);
      log.error(`next: ag-images push --registry ${where} (it sends only what is missing)`);
      return ExitCode.missing;
    case 'verification':
      log.error(`the registry ${where} answers, but its TLS is not valid: ${status.tls.error}`);
      log.error(`next: pass --ca-file FILE with the CA that issued its certificate (or add that CA to the system trust store), or have the certificate cover ${target.host}`);
      return ExitCode.verification;
    case 'credentials':
      log.error(`the registry ${where} refuses ${who}: ${status.error}`);
      return ExitCode.credentials;
    default:
      log.error(`the registry ${where} does not answer: ${status.error ?? 'no answer'}`);
      return ExitCode.unreachable;
  }
}
