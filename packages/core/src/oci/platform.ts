import { UsageError } from '../errors.js';
import type { Descriptor, ImagePlatform } from './descriptor.js';

/** A platform as operators write it: `os/arch[/variant][:os.version]`. */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
  osVersion?: string;
}

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386' };

/**
 * Parses `linux/arm64`, `linux/arm/v7`, `windows/amd64:10.0.17763.4974`.
 * Architecture aliases (x86_64, aarch64) are normalised to Go's names.
 */
export function parsePlatform(text: string): PlatformSpec {
  const match = /^([a-z0-9]+)\/([a-z0-9_-]+)(?:\/([a-z0-9]+))?(?::([0-9.]+))?$/.exec(text.trim());
  if (!match) {
    throw new UsageError(`platform ${JSON.stringify(text)} is not os/arch[/variant][:os.version]`, {
      hint: 'for example linux/amd64, linux/arm64/v8 or windows/amd64:10.0.17763',
    });
  }
  const [, os, arch, variant, osVersion] = match as unknown as [string, string, string, string | undefined, string | undefined];
  const spec: PlatformSpec = { os, architecture: ARCH_ALIASES[arch] ?? arch };
  if (variant !== undefined) spec.variant = variant;
  if (osVersion !== undefined) spec.osVersion = osVersion;
  return spec;
}

/** `os/arch[/variant][:os.version]` */
export function formatPlatform(platform: PlatformSpec | ImagePlatform): string {
  const osVersion = 'osVersion' in platform ? platform.osVersion : (platform as ImagePlatform)['os.version'];
  let text = `${platform.os}/${platform.architecture}`;
  if (platform.variant) text += `/${platform.variant}`;
  if (osVersion) text += `:${osVersion}`;
  return text;
}

/** The variant a platform implies when it names none (containerd's normalisation). */
function normalVariant(architecture: string, variant: string | undefined): string | undefined {
  if (variant !== undefined && variant !== '') return variant;
  if (architecture === 'arm64') return 'v8';
  if (architecture === 'arm') return 'v7';
  return undefined;
}

/**
 * Whether an index entry's platform is what `wanted` asks for. A wanted
 * variant must match (arm64 means v8, arm means v7 when unnamed); a wanted
 * os.version matches that version and every longer one (`10.0.17763` matches
 * `10.0.17763.4974`); an unnamed os.version matches any.
 */
export function platformMatches(wanted: PlatformSpec, have: ImagePlatform | undefined): boolean {
  if (have === undefined) return false;
  if (wanted.os !== have.os) return false;
  if (wanted.architecture !== (ARCH_ALIASES[have.architecture] ?? have.architecture)) return false;
  if (wanted.variant !== undefined && normalVariant(wanted.architecture, wanted.variant) !== normalVariant(have.architecture, have.variant)) {
    return false;
  }
  if (wanted.osVersion !== undefined) {
    const version = have['os.version'] ?? '';
    if (version !== wanted.osVersion && !version.startsWith(`${wanted.osVersion}.`)) return false;
  }
  return true;
}

/**
 * The entries of an index that a set of wanted platforms selects, in the
 * index's order, each once. For each wanted platform: every match when it is a
 * Windows platform without an os.version (a Windows node needs the one for its
 * own build, and an index usually holds several); otherwise the best single
 * match (the implied variant first, then the first listed).
 * Entries without a platform (attestations, artifacts) are never selected.
 */
export function selectPlatforms(manifests: Descriptor[], wanted: PlatformSpec[]): { selected: Descriptor[]; unmatched: PlatformSpec[] } {
  const chosen = new Set<number>();
  const unmatched: PlatformSpec[] = [];
  for (const want of wanted) {
    const candidates = manifests.map((d, i) => [d, i] as const).filter(([d]) => platformMatches(want, d.platform) && !isAttestation(d));
    if (candidates.length === 0) {
      unmatched.push(want);
      continue;
    }
    if (want.os === 'windows' && want.osVersion === undefined) {
      for (const [, i] of candidates) chosen.add(i);
      continue;
    }
    const implied = normalVariant(want.architecture, want.variant);
    const best = candidates.find(([d]) => normalVariant(d.platform!.architecture, d.platform!.variant) === implied) ?? candidates[0]!;
    chosen.add(best[1]);
  }
  return { selected: manifests.filter((_, i) => chosen.has(i)), unmatched };
}

/** BuildKit's attestation manifests sit in an index as `unknown/unknown` with this annotation. */
function isAttestation(descriptor: Descriptor): boolean {
  return descriptor.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest';
}

/** The platform of the host, for a default when nothing else names one. */
export function hostPlatform(): PlatformSpec {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch;
  return { os: 'linux', architecture: arch };
}
