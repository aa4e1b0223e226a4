import { describe, expect, it } from 'vitest';
import { formatReference, internalReference, parseReference } from './reference.js';
import { formatRegistryTarget, parseRegistryTarget, registryTargetOf, sameRegistryTarget } from './registry-target.js';

describe('parseRegistryTarget', () => {
  it.each([
    ['registry.internal:5000', { host: 'registry.internal:5000' }],
    ['harbor.example/k8s', { host: 'harbor.example', prefix: 'k8s' }],
    ['harbor.example:8443/platform/k8s/', { host: 'harbor.example:8443', prefix: 'platform/k8s' }],
    ['[fd00::5]:5000/k8s', { host: '[fd00::5]:5000', prefix: 'k8s' }],
    ['10.0.0.5', { host: '10.0.0.5' }],
  ])('%s', (text, target) => {
    expect(parseRegistryTarget(text)).toEqual(target);
    expect(formatRegistryTarget(parseRegistryTarget(text))).toBe(text.replace(/\/$/, ''));
  });

  it.each([
    ['https://harbor.example/k8s', /has a scheme/],
    ['harbor.example/K8s', /"K8s", which no repository name may hold/],
    ['harbor.example//k8s', /component ""/],
    ['harbor.example:99999', /is not HOST\[:PORT\]/],
    ['', /is not HOST\[:PORT\]/],
    ['harbor_example/k8s', /is not HOST\[:PORT\]/],
  ])('refuses %j, naming what is wrong (exit 2)', (text, message) => {
    expect(() => parseRegistryTarget(text)).toThrow(expect.objectContaining({ kind: 'usage', message: expect.stringMatching(message) }));
  });

  it('reads the target a document records, and compares targets', () => {
    expect(registryTargetOf({ endpoint: 'harbor.example', prefix: 'k8s' })).toEqual({ host: 'harbor.example', prefix: 'k8s' });
    expect(registryTargetOf({ prefix: 'k8s' })).toBeUndefined();
    expect(sameRegistryTarget({ host: 'Harbor.Example', prefix: 'k8s' }, { host: 'harbor.example', prefix: 'k8s' })).toBe(true);
    expect(sameRegistryTarget({ host: 'harbor.example' }, { host: 'harbor.example', prefix: 'k8s' })).toBe(false);
  });
});

describe('internalReference under a prefix', () => {
  it('puts the upstream host and path under the prefix: <host>/<prefix>/<upstream host>/<path>', () => {
    const target = parseRegistryTarget('harbor.example/k8s');
    expect(formatReference(internalReference(parseReference('registry.k8s.io/coredns/coredns:v1.10.1'), target))).toBe('harbor.example/k8s/registry.k8s.io/coredns/coredns:v1.10.1');
    expect(formatReference(internalReference(parseReference('nginx@sha256:' + 'a'.repeat(64)), target))).toBe(`harbor.example/k8s/docker.io/library/nginx@sha256:${'a'.repeat(64)}`);
    expect(formatReference(internalReference(parseReference('registry.corp:5000/team/app:1'), { host: 'h:1', prefix: 'a/b' }))).toBe('h:1/a/b/registry.corp_5000/team/app:1');
  });
});
