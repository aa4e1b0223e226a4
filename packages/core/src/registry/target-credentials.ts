import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import type { Io } from '../io.js';
import type { RegistryTarget } from '../registry-target.js';
import { findCredentials, type Credentials } from './credentials.js';

/** Credentials as the shared flags give them: `--username`, `--password-stdin`, `--credentials-file`. */
export interface CredentialFlags {
  /** `--username`. */
  username?: string;
  /** What `--password-stdin` read. */
  password?: string;
  /** `--credentials-file` (an absolute path), or the file a document names, with how to name it in messages. */
  credentialsFile?: { path: string; source: string };
}

/** Reads the password for `--password-stdin` (one line, trailing newline dropped). */
export async function readPasswordFromStdin(io: Pick<Io, 'stdin'>): Promise<string> {
  if (io.stdin.isTTY) throw new UsageError('--password-stdin: stdin is a terminal', { hint: 'pipe the password in: cat pw-file | ag-… --password-stdin --in document.json' });
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (password === '') throw new UsageError('--password-stdin: stdin was empty');
  return password;
}

/** A `username:password` file (one line, as ag-registry writes it and `curl -u "$(cat FILE)"` reads it). */
export async function readCredentialsFile(path: string, source = `--credentials-file ${path}`): Promise<Credentials> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).split('\n')[0]!.trim();
  } catch (error) {
    throw new UsageError(`${source}: ${(error as Error).message}`);
  }
  const colon = text.indexOf(':');
  if (colon <= 0) throw new UsageError(`${source} does not hold user:password on its first line`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1), source };
}

/**
 * The credentials for a registry target: from the flags when they give any
 * (`--credentials-file`, `--username` with the password from stdin or that
 * file), else as podman, skopeo and docker keep them (findCredentials), where
 * a containers auth.json entry for `host/prefix` (a robot account of one
 * Harbor project, say) wins over one for the whole host. Undefined: none.
 */
export async function credentialsForTarget(target: RegistryTarget, flags: CredentialFlags, env: Record<string, string | undefined>): Promise<Credentials | undefined> {
  const fromFile = flags.credentialsFile === undefined ? undefined : await readCredentialsFile(flags.credentialsFile.path, flags.credentialsFile.source);
  if (flags.username !== undefined) {
    const password = flags.password ?? fromFile?.password;
    if (password === undefined) throw new UsageError('--username needs --password-stdin or --credentials-file');
    return { username: flags.username, password, source: flags.password !== undefined ? '--username with --password-stdin' : `--username with the password in ${fromFile!.source}` };
  }
  if (flags.password !== undefined) throw new UsageError('--password-stdin needs --username');
  if (fromFile !== undefined) return fromFile;
  return findCredentials(target.host, target.prefix, env);
}
