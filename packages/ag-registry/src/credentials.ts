import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { AgError, SystemError, VerificationError, withContext, writeFileAtomic } from '@ag/core';
import { readOptional } from './files.js';
import { registryPaths } from './paths.js';

/** The user ag-registry creates. Not a secret; the password is. */
export const DEFAULT_USERNAME = 'ag';

/**
 * bcrypt cost 5, Apache's `htpasswd -B` default. distribution checks the
 * password on every request, so the cost is paid per blob of every push; the
 * password is 256 random bits, which no cost factor needs to protect.
 */
const BCRYPT_COST = 5;

export interface Credentials {
  username: string;
  password: string;
}

export interface CredentialsResult {
  username: string;
  /** 0600 file holding `username:password` and a newline. */
  credentialsFile: string;
  /** bcrypt htpasswd file (0600) the registry reads. */
  htpasswdFile: string;
  action: 'created' | 'kept';
}

/**
 * The credentials file format, documented in docs/document.md: one line,
 * `username:password`, so that `skopeo --creds "$(cat FILE)"`,
 * `curl -u "$(cat FILE)"` and `ctr --user "$(cat FILE)"` take it as it is.
 */
export function parseCredentials(text: string, path: string): Credentials {
  const line = text.split('\n')[0]?.trim() ?? '';
  const colon = line.indexOf(':');
  if (colon <= 0 || colon === line.length - 1) {
    throw new VerificationError(`${path} does not hold username:password on its first line`, {
      hint: 'remove it (and the htpasswd file next to it) and run ag-registry up again to generate new credentials',
    });
  }
  return { username: line.slice(0, colon), password: line.slice(colon + 1) };
}

/** Reads the credentials file (refusing one others can read). */
export async function readCredentials(path: string): Promise<Credentials> {
  let text: string;
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) {
      throw new SystemError(`${path} is readable by others (mode ${(info.mode & 0o777).toString(8)})`, {
        hint: `chmod 600 ${path}, and consider the password exposed (remove both auth files and run ag-registry up to rotate it)`,
      });
    }
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof AgError) throw error;
    throw withContext(`reading the registry credentials ${path}`, error);
  }
  return parseCredentials(text, path);
}

/** An htpasswd line with a bcrypt hash in the `$2y$` form Apache writes and distribution reads. */
export function htpasswdLine(username: string, password: string): string {
  // bcryptjs writes $2b$; the algorithm is the same, and $2y$ is what htpasswd tools and older readers expect.
  const hash = bcrypt.hashSync(password, BCRYPT_COST).replace(/^\$2b\$/, '$2y$');
  return `${username}:${hash}\n`;
}

/** Parses an htpasswd file into user -> bcrypt hash (only bcrypt entries: distribution accepts no other). */
export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const hash = line.slice(colon + 1);
    if (/^\$2[aby]\$\d\d\$/.test(hash)) users.set(line.slice(0, colon), hash);
  }
  return users;
}

/** Whether `password` is `username`'s in an htpasswd map. */
export async function checkPassword(users: Map<string, string>, username: string, password: string): Promise<boolean> {
  const hash = users.get(username);
  if (hash === undefined) return false;
  return bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
}

/**
 * Makes sure DIR/auth holds generated credentials: a random password for
 * `username`, in clear in the 0600 credentials file and as bcrypt in the 0600
 * htpasswd file. Idempotent: existing files that agree are kept; a
 * credentials file whose password the htpasswd file does not accept is an
 * error (never silently replaced: clients may hold it).
 */
export async function ensureCredentials(dir: string, username = DEFAULT_USERNAME): Promise<CredentialsResult> {
  const paths = registryPaths(dir);
  const result = { username, credentialsFile: paths.credentials, htpasswdFile: paths.htpasswd };
  const [credentialsText, htpasswdText] = await Promise.all([readOptional(paths.credentials), readOptional(paths.htpasswd)]);
  if (credentialsText !== undefined && htpasswdText !== undefined) {
    const credentials = await readCredentials(paths.credentials);
    const users = parseHtpasswd(htpasswdText);
    if (!(await checkPassword(users, credentials.username, credentials.password))) {
      throw new VerificationError(`the password in ${paths.credentials} is not the one ${paths.htpasswd} accepts for ${credentials.username}`, {
        hint: `remove both files and run again to generate new credentials (then give clients the new ${paths.credentials})`,
      });
    }
    return { ...result, username: credentials.username, action: 'kept' };
  }
  if (credentialsText !== undefined || htpasswdText !== undefined) {
    throw new VerificationError(`only one of ${paths.credentials} and ${paths.htpasswd} is there`, {
      hint: 'remove the other one too and run again to generate new credentials',
    });
  }
  try {
    await mkdir(paths.authDir, { recursive: true, mode: 0o700 });
    // 32 random bytes: nobody types this password, clients read it from the file.
    const password = randomBytes(32).toString('base64url');
    await writeFileAtomic(paths.htpasswd, htpasswdLine(username, password), { mode: 0o600 });
    await writeFileAtomic(paths.credentials, `${username}:${password}\n`, { mode: 0o600 });
  } catch (error) {
    throw withContext(`writing registry credentials to ${paths.authDir}`, error);
  }
  return { ...result, action: 'created' };
}

/** The registry's HTTP secret (signs upload state), generated once and kept so the config does not change between runs. */
export async function ensureHttpSecret(dir: string): Promise<string> {
  const paths = registryPaths(dir);
  const existing = await readOptional(paths.httpSecret);
  if (existing !== undefined && existing.trim() !== '') return existing.trim();
  const secret = randomBytes(32).toString('hex');
  await writeFileAtomic(paths.httpSecret, `${secret}\n`, { mode: 0o600 });
  return secret;
}

