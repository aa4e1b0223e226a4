import { describe, expect, it } from 'vitest';
import { UsageError } from '@ag/core';
import { refuseUnsupportedContainerd } from './containerd-check.js';

const DEBIAN_12 = { name: 'containerd', version: '1.6.20~ds1-1+deb12u1' };
const others = [{ name: 'runc', version: '1.1.5+ds1-1+deb12u1' }, { name: 'socat', version: '1.7.4.4-2' }];

describe('refuseUnsupportedContainerd', () => {
  it("refuses a containerd the release does not support, naming the newest release it does", () => {
    let thrown: unknown;
    try {
      refuseUnsupportedContainerd('v1.36.3', [...others, DEBIAN_12], 'debian-12/amd64');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).message).toBe(
      'debian-12/amd64: containerd 1.6.20~ds1-1+deb12u1 cannot run Kubernetes v1.36.3: containerd 1.6 is not among the releases containerd supports for Kubernetes 1.36 (2.3.0+, 2.2.0+)',
    );
    expect((thrown as UsageError).hint).toContain('plan Kubernetes 1.28 or earlier with this containerd');
    expect((thrown as UsageError).hint).toContain('--no-package containerd');
    // The way out that keeps the release: a supported containerd from its releases.
    expect((thrown as UsageError).hint).toContain('--containerd upstream');
    // An older patch of a listed minor: 1.29 wants 1.6.27 or newer.
    expect(() => refuseUnsupportedContainerd('v1.29.15', [DEBIAN_12], 'x')).toThrow('older than 1.6.27');
  });

  it("checks docker-ce's containerd.io as well", () => {
    expect(() => refuseUnsupportedContainerd('v1.36.3', [{ name: 'containerd.io', version: '1.7.28-1' }], 'fedora-42/x86_64')).toThrow(UsageError);
    expect(() => refuseUnsupportedContainerd('v1.36.3', [{ name: 'containerd.io', version: '2.2.1-1.fc42' }], 'fedora-42/x86_64')).not.toThrow();
  });

  it('lets through a supported containerd, none at all, a release the table has no row for, and a document without a release', () => {
    expect(() => refuseUnsupportedContainerd('v1.28.15', [...others, DEBIAN_12], 'x')).not.toThrow();
    expect(() => refuseUnsupportedContainerd('v1.36.3', others, 'x')).not.toThrow();
    // No row for 1.37 yet: ag-kubeadm preflight warns there, so nothing is refused here.
    expect(() => refuseUnsupportedContainerd('v1.37.1', [DEBIAN_12], 'x')).not.toThrow();
    expect(() => refuseUnsupportedContainerd(undefined, [DEBIAN_12], 'x')).not.toThrow();
  });
});
