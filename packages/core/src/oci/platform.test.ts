import { describe, expect, it } from 'vitest';
import type { Descriptor } from './descriptor.js';
import { formatPlatform, parsePlatform, platformMatches, selectPlatforms } from './platform.js';

const entry = (platform: Descriptor['platform'], extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${String(Math.random()).slice(2).padEnd(64, '0').slice(0, 64)}`,
  size: 1,
  ...(platform ? { platform } : {}),
  ...extra,
});

describe('platforms', () => {
  it('parses and formats os/arch[/variant][:os.version], normalising architecture aliases', () => {
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('windows/amd64:10.0.17763')).toEqual({ os: 'windows', architecture: 'amd64', osVersion: '10.0.17763' });
    expect(formatPlatform({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1' })).toBe('windows/amd64:10.0.20348.1');
    expect(() => parsePlatform('amd64')).toThrow(/not os\/arch/);
  });

  it('matches arm64 with and without its implied v8, and arm v7 only when asked for v7', () => {
    expect(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v6' })).toBe(false);
    expect(platformMatches(parsePlatform('linux/amd64'), { os: 'windows', architecture: 'amd64' })).toBe(false);
  });

  it('picks one manifest per Linux platform and every Windows build unless one is named', () => {
    const amd64 = entry({ os: 'linux', architecture: 'amd64' });
    const armv6 = entry({ os: 'linux', architecture: 'arm', variant: 'v6' });
    const armv7 = entry({ os: 'linux', architecture: 'arm', variant: 'v7' });
    const ltsc2019 = entry({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.4974' });
    const ltsc2022 = entry({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2031' });
    const attestation = entry({ os: 'unknown', architecture: 'unknown' }, { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } });
    const all = [amd64, armv6, armv7, ltsc2019, ltsc2022, attestation];
    expect(selectPlatforms(all, [parsePlatform('linux/arm')]).selected).toEqual([armv7]);
    expect(selectPlatforms(all, [parsePlatform('windows/amd64')]).selected).toEqual([ltsc2019, ltsc2022]);
    expect(selectPlatforms(all, [parsePlatform('windows/amd64:10.0.20348')]).selected).toEqual([ltsc2022]);
    const { selected, unmatched } = selectPlatforms(all, [parsePlatform('linux/amd64'), parsePlatform('linux/s390x')]);
    expect(selected).toEqual([amd64]);
    expect(unmatched).toEqual([{ os: 'linux', architecture: 's390x' }]);
  });
});
