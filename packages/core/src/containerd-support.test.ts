import { describe, expect, it } from 'vitest';
import { containerdSupported, containerdVersionOf, newestMinorSupporting } from './containerd-support.js';

describe("containerd's Kubernetes support table", () => {
  it('reads the version from what containerd --version and packages print', () => {
    expect(containerdVersionOf('containerd github.com/containerd/containerd v1.7.2 0cae528dd6cb557f7201036e9f43420650207b58')).toBe('1.7.2');
    expect(containerdVersionOf('containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1')).toBe('1.6.20');
  });

  it('takes a listed minor from its first supported patch, refuses older or unlisted minors, and accepts newer ones', () => {
    expect(containerdSupported('1.27', '1.6.20')).toEqual({ supported: true, by: '1.6.15+' });
    expect(containerdSupported('1.27', '1.6.14')).toMatchObject({ supported: false });
    // 1.35 lists 2.2, 2.1 and 1.7: containerd 2.0 sits between them and is not supported.
    expect(containerdSupported('1.35', '2.0.6')).toEqual({ supported: false, why: 'containerd 2.0 is not among the releases containerd supports for Kubernetes 1.35 (2.2.0+, 2.1.5+, 1.7.28+)' });
    // 1.36 no longer lists containerd 1.x.
    expect(containerdSupported('1.36', '1.7.28')).toMatchObject({ supported: false });
    expect(containerdSupported('1.36', '2.4.0')).toEqual({ supported: true, by: 'newer than 2.3.0' });
    expect(containerdSupported('1.26', '1.6.20')).toHaveProperty('unknown');
  });

  it('names the newest Kubernetes minor a containerd release is supported for', () => {
    // Debian 12's containerd: 1.6.15+ for 1.27 and 1.28, 1.6.27+ from 1.29 on.
    expect(newestMinorSupporting('1.6.20')).toBe('1.28');
    expect(newestMinorSupporting('1.7.24')).toBe('1.33');
    expect(newestMinorSupporting('2.2.1')).toBe('1.36');
    expect(newestMinorSupporting('1.5.9')).toBeUndefined();
  });
});
