import { Value } from '@sinclair/typebox/value';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SiteFileSchema } from '@ag/core';
import { CLUSTER, demoSite } from './connected-side.js';

describe("the demo's site file", () => {
  it('is a valid site file describing the demo cluster, and survives YAML as written', () => {
    const site = parse(stringify(demoSite())) as unknown;
    expect([...Value.Errors(SiteFileSchema, site)]).toEqual([]);
    expect(site).toMatchObject({
      spec: {
        kubernetes: { version: CLUSTER.kubernetesVersion },
        os: { name: CLUSTER.os },
        cni: { name: 'flannel', version: 'v0.22.0' },
        charts: [{ repo: 'https://stefanprodan.github.io/podinfo', name: 'podinfo', version: '6.4.0' }],
        images: [CLUSTER.appImage],
      },
    });
  });
});
