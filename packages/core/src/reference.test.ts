import { describe, expect, it } from 'vitest';
import { formatReference, internalReference, normalizeReference, parseReference, upstreamPathComponent } from './reference.js';

describe('parseReference', () => {
  it.each([
    ['pause:3.9', 'docker.io/library/pause:3.9'],
    ['flannel/flannel:v0.22.0', 'docker.io/flannel/flannel:v0.22.0'],
    ['registry.k8s.io/coredns/coredns:v1.10.1', 'registry.k8s.io/coredns/coredns:v1.10.1'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    ['127.0.0.1:5000/a/b:1', '127.0.0.1:5000/a/b:1'],
    ['index.docker.io/library/registry:2.8.2', 'docker.io/library/registry:2.8.2'],
    [`ghcr.io/x/y:1@sha256:${'a'.repeat(64)}`, `ghcr.io/x/y:1@sha256:${'a'.repeat(64)}`],
    [`ghcr.io/x/y@sha256:${'b'.repeat(64)}`, `ghcr.io/x/y@sha256:${'b'.repeat(64)}`],
  ])('normalises %s to %s', (input, expected) => {
    expect(normalizeReference(input)).toBe(expected);
  });

  it.each([['UPPER/case:1'], ['x@sha256:short'], ['a:b:c'], [''], ['a/:1']])('refuses %j with a usage error', (input) => {
    expect(() => parseReference(input)).toThrow(expect.objectContaining({ kind: 'usage' }));
  });

  it('maps an upstream image under the internal registry with the upstream host as a path prefix', () => {
    const internal = internalReference(parseReference('registry.k8s.io/pause:3.9'), 'registry.internal:5000');
    expect(formatReference(internal)).toBe('registry.internal:5000/registry.k8s.io/pause:3.9');
    expect(internal.repository).toBe('registry.k8s.io/pause');
  });

  it.each([
    ['registry.corp:5000/team/app:1', 'registry.internal:5000/registry.corp_5000/team/app:1'],
    ['localhost:5000/x:1', 'registry.internal:5000/localhost_5000/x:1'],
    ['Registry.Corp:443/a@sha256:' + 'c'.repeat(64), 'registry.internal:5000/registry.corp_443/a@sha256:' + 'c'.repeat(64)],
  ])('maps %s (a port in the upstream host) to a repository name distribution accepts: %s', (upstream, expected) => {
    const internal = internalReference(parseReference(upstream), 'registry.internal:5000');
    expect(formatReference(internal)).toBe(expected);
    // The repository grammar of the distribution spec, and a name that parses back to the same repository.
    expect(internal.repository).toMatch(/^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/);
    expect(parseReference(expected).repository).toBe(internal.repository);
  });

  it('keeps upstream hosts apart: no host name holds an underscore, so host_port never meets a real host', () => {
    expect(upstreamPathComponent('registry.corp:5000')).toBe('registry.corp_5000');
    expect(upstreamPathComponent('registry.corp-5000')).toBe('registry.corp-5000');
    expect(() => parseReference('registry.corp_5000.example/x:1')).toThrow(expect.objectContaining({ kind: 'usage' }));
  });

  it('refuses an IPv6 upstream, which has no repository name, naming it', () => {
    expect(() => upstreamPathComponent('[fd00::1]:5000')).toThrow(/fd00::1.*IPv6/);
  });
});
