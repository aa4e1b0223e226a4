import { join } from 'node:path';
import { isIP } from 'node:net';
import { parseRegistryTarget, type RegistryTarget } from '@ag/core';
import { startServeScript, type RunningScript } from '../serve-script.js';
import { REPO_ROOT } from '../tools.js';
import type { SiteRegistryInfo } from './info.js';

/** `--registry HOST[:PORT][/PREFIX]` of the demo, with what the far side must map and listen on. */
export interface SiteRegistryPlan {
  target: RegistryTarget;
  /** The DNS name the far side's /etc/hosts maps to 127.0.0.1 (none for 127.0.0.1 itself). */
  name: string | undefined;
  port: number;
}

/**
 * Reads the demo's `--registry`: a name (mapped to 127.0.0.1 on the far
 * side) or 127.0.0.1, an optional port (default 443) and a prefix.
 */
export function planSiteRegistry(value: string): SiteRegistryPlan {
  const target = parseRegistryTarget(value);
  const match = /^([^:[\]]+)(?::(\d+))?$/.exec(target.host);
  const host = match?.[1];
  if (host === undefined || (isIP(host) !== 0 && host !== '127.0.0.1')) {
    throw new Error(`--registry ${value}: the demo serves the site's registry on the far side's loopback, so its host is a name (mapped to 127.0.0.1 there) or 127.0.0.1`);
  }
  return { target, name: isIP(host) === 0 ? host : undefined, port: Number(match?.[2] ?? 443) };
}

/** Starts the site's registry (serve.ts) inside the far namespace, with `prefix` (`ip netns exec NAME`). */
export function startSiteRegistry(prefix: string[], dir: string, plan: SiteRegistryPlan): Promise<RunningScript<SiteRegistryInfo>> {
  const ready = join(dir, 'ready.json');
  const args = ['--dir', dir, '--ready', ready, '--name', plan.name ?? 'localhost', '--port', String(plan.port)];
  return startServeScript<SiteRegistryInfo>(prefix, join(REPO_ROOT, 'e2e', 'src', 'site-registry', 'serve.ts'), args, ready, "the site's registry", 60_000);
}
