import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER_HUB } from '../reference.js';
import { SystemError, UsageError } from '../errors.js';
import { runProgram } from '../program.js';

/** A username and a password (or token) for one registry. */
export interface Credentials {
  username: string;
  password: string;
  /** Where they came from, for logs (never the secret itself). */
  source: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

interface AuthFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** The names a config file may use for a registry host (Docker Hub has several). */
function hostAliases(registry: string): string[] {
  if (registry === DOCKER_HUB) return ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/'];
  return [registry];
}

/** `https://host:5000/v1/` -> `host:5000`; `host/ns/repo` stays (containers auth.json scopes by namespace). */
function normalizeKey(key: string): string {
  if (key === 'https://index.docker.io/v1/') return DOCKER_HUB;
  let text = key.replace(/^[a-z]+:\/\//, '');
  if (/^[a-z]+:\/\//.test(key)) text = text.split('/')[0] ?? text;
  text = text.replace(/\/+$/, '');
  if (text === 'index.docker.io' || text === 'registry-1.docker.io') return DOCKER_HUB;
  if (text.startsWith('index.docker.io/') || text.startsWith('registry-1.docker.io/')) return `${DOCKER_HUB}/${text.split('/').slice(1).join('/')}`;
  return text;
}

function decodeEntry(entry: AuthEntry, source: string): Credentials | undefined {
  if (entry.auth !== undefined && entry.auth !== '') {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) throw new UsageError(`${source}: an "auth" entry is not base64 of user:password`);
    return { username: text.slice(0, colon), password: text.slice(colon + 1), source };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password, source };
  return undefined;
}

async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as AuthFile;
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON (${(error as Error).message})`, { hint: 'fix or remove the file, or log in again' });
  }
}

/** Asks a Docker credential helper (`docker-credential-<name> get`) for a host's credentials. */
export async function credentialsFromHelper(helper: string, serverUrl: string, env: Record<string, string | undefined>): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  // Through runProgram (execa): the helper's output is captured, never on our stdout; a missing helper is exit 5.
  const result = await runProgram(program, ['get'], {
    env,
    input: serverUrl,
    allowFailure: true,
    missingHint: `install ${program} or remove "${helper}" from the Docker config`,
  });
  const out = result.stdout;
  if (result.exitCode !== 0) {
    // "credentials not found" is how helpers say "none": not an error.
    if (/not found/i.test(out + result.stderr)) return undefined;
    throw new SystemError(`${program} get failed (${result.exitCode}): ${(result.stderr || out).trim()}`);
  }
  let parsed: { Username?: string; Secret?: string };
  try {
    parsed = JSON.parse(out) as { Username?: string; Secret?: string };
  } catch {
    throw new SystemError(`${program} get printed something that is not JSON`);
  }
  return parsed.Secret ? { username: parsed.Username ?? '', password: parsed.Secret, source: program } : undefined;
}

/** The containers auth files in the order podman and skopeo read them. */
export function containersAuthFiles(env: Record<string, string | undefined>): string[] {
  if (env['REGISTRY_AUTH_FILE']) return [env['REGISTRY_AUTH_FILE']];
  const files: string[] = [];
  if (env['XDG_RUNTIME_DIR']) files.push(join(env['XDG_RUNTIME_DIR'], 'containers', 'auth.json'));
  const configHome = env['XDG_CONFIG_HOME'] ?? (env['HOME'] ? join(env['HOME'], '.config') : undefined);
  if (configHome) files.push(join(configHome, 'containers', 'auth.json'));
  return files;
}

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigFile(env: Record<string, string | undefined>): string | undefined {
  if (env['DOCKER_CONFIG']) return join(env['DOCKER_CONFIG'], 'config.json');
  return env['HOME'] ? join(env['HOME'], '.docker', 'config.json') : undefined;
}

/** Every file findCredentials reads, in its order (for a message saying where none were found). */
export function credentialFiles(env: Record<string, string | undefined>): string[] {
  return [...containersAuthFiles(env), dockerConfigFile(env)].filter((f): f is string => f !== undefined);
}

async function lookUp(file: AuthFile, path: string, registry: string, repository: string | undefined, env: Record<string, string | undefined>): Promise<Credentials | undefined> {
  const aliases = hostAliases(registry);
  for (const [host, helper] of Object.entries(file.credHelpers ?? {})) {
    if (normalizeKey(host) === registry) return credentialsFromHelper(helper, aliases[aliases.length - 1]!, env);
  }
  const entries = Object.entries(file.auths ?? {}).map(([key, entry]) => [normalizeKey(key), entry] as const);
  // containers auth.json may scope by namespace: the longest matching prefix of host/repository wins.
  const wanted = repository === undefined ? registry : `${registry}/${repository}`;
  const matching = entries
    .filter(([key]) => key === registry || ((key === wanted || wanted.startsWith(`${key}/`)) && key.startsWith(`${registry}/`)))
    .sort(([a], [b]) => b.length - a.length);
  for (const [key, entry] of matching) {
    const credentials = decodeEntry(entry, `${path} (${key})`);
    if (credentials !== undefined) return credentials;
    if (entry.identitytoken !== undefined) {
      throw new UsageError(`${path}: the entry for ${key} holds an identity token, which ag does not use`, {
        hint: 'log in with a username and password or an access token (docker login --password-stdin)',
      });
    }
  }
  if (file.credsStore && matching.length > 0) return credentialsFromHelper(file.credsStore, aliases[aliases.length - 1]!, env);
  return undefined;
}

/**
 * Finds credentials for a registry the way podman, skopeo and docker do:
 * `REGISTRY_AUTH_FILE` or the containers `auth.json` files, then
 * `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`), each with its
 * credential helpers. Undefined when none names the registry (anonymous).
 */
export async function findCredentials(
  registry: string,
  repository: string | undefined,
  env: Record<string, string | undefined>,
): Promise<Credentials | undefined> {
  for (const path of credentialFiles(env)) {
    const file = await readAuthFile(path);
    if (file === undefined) continue;
    const credentials = await lookUp(file, path, registry, repository, env);
    if (credentials !== undefined) return credentials;
  }
  return undefined;
}
