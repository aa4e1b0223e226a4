import { UsageError } from '@ag/core';
import { compareVersions, minorOf } from '../semver.js';
import type { VersionSource } from '../version-source.js';
import type { ComponentName } from '../versions.js';
import type { GitHubRelease, ListingAnswer, ReleaseListings } from './github.js';

/**
 * How a component's version is found for a Kubernetes minor newer than the
 * table: the GitHub repository that publishes it and how its answer becomes
 * the version ag plans.
 */
interface ListingRule {
  repo: string;
  pick(listings: ReleaseListings, kubernetesMinor: string): Promise<{ version: string; answer: ListingAnswer<unknown>; how: string }>;
}

const published = (r: GitHubRelease): boolean => !r.draft && !r.prerelease;

/** `/releases/latest`, as is (the tag is the version ag plans). */
const latest = (repo: string, toVersion: (tag: string) => string = (tag) => tag): ListingRule => ({
  repo,
  async pick(listings) {
    const answer = await listings.latest(repo);
    return { version: toVersion(answer.value.tag_name), answer, how: 'the latest release' };
  },
});

export const LISTING_RULES: Record<ComponentName, ListingRule> = {
  // crictl vX.Y follows Kubernetes vX.Y; any cri-tools >= 1.27 works with Kubernetes >= 1.27 (cri-tools README).
  crictl: {
    repo: 'kubernetes-sigs/cri-tools',
    async pick(listings, kubernetesMinor) {
      const answer = await listings.list('kubernetes-sigs/cri-tools');
      const releases = answer.value.filter(published).map((r) => r.tag_name).filter((tag) => /^v\d+\.\d+\.\d+$/.test(tag));
      const sameMinor = releases.filter((tag) => minorOf(tag) === kubernetesMinor).sort(compareVersions).at(-1);
      if (sameMinor !== undefined) return { version: sameMinor, answer, how: `the newest ${kubernetesMinor} release` };
      const older = releases.filter((tag) => compareVersions(minorOf(tag), kubernetesMinor) < 0).sort(compareVersions).at(-1);
      if (older === undefined) throw new UsageError(`kubernetes-sigs/cri-tools lists no release up to ${kubernetesMinor}`, { hint: 'pass --component crictl=VERSION' });
      return { version: older, answer, how: `no ${kubernetesMinor} release yet: the newest older one` };
    },
  },
  'cni-plugins': latest('containernetworking/plugins'),
  helm: latest('helm/helm'),
  k9s: latest('derailed/k9s'),
  'kubernetes-release': latest('kubernetes/release'),
  flannel: latest('flannel-io/flannel'),
  // docker.io/library/registry is tagged with distribution's version without the v (3.1.0 for v3.1.0).
  registry: latest('distribution/distribution', (tag) => tag.replace(/^v/, '')),
};

/**
 * Resolves the components a minor newer than the table leaves open, from
 * their release listings, one request per repository (cached with ETags).
 */
export async function resolveFromListings(
  names: readonly ComponentName[],
  kubernetesVersion: string,
  listings: ReleaseListings,
): Promise<{ versions: Record<string, string>; sources: Record<string, VersionSource> }> {
  const minor = minorOf(kubernetesVersion);
  const versions: Record<string, string> = {};
  const sources: Record<string, VersionSource> = {};
  // One at a time: a rate-limited answer stops the plan before more requests spend the limit.
  for (const name of names) {
    const rule = LISTING_RULES[name];
    const { version, answer, how } = await rule.pick(listings, minor);
    versions[name] = version;
    sources[name] = {
      from: 'release-listing',
      detail: `${answer.url}: ${how}${answer.notModified ? ' (304 Not Modified: cached answer)' : ''}; Kubernetes ${minor} is newer than the table`,
    };
  }
  return { versions, sources };
}
