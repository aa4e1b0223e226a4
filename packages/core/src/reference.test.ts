import { describe, expect, it } from 'vitest';
import { formatReference, internalReference, normalizeReference, parseReference } from './reference.js';

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
});
