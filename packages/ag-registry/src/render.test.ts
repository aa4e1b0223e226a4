import { describe, expect, it } from 'vitest';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { checkPassword, htpasswdLine, parseCredentials, parseHtpasswd } from './credentials.js';
import { renderDistributionConfig } from './distribution-config.js';
import { parseRange } from './embedded/server.js';
import { resolveEndpoint } from './up.js';
import { parseHostPort } from './endpoint.js';
import { renderMirrorHostsToml, renderRegistriesConf, renderRegistryHostsToml } from './hosts-toml.js';
import { renderUnit } from './systemd.js';
import { runCommand, stopCommand } from './container-runtime.js';

interface HostsToml {
  server: string;
  host: Record<string, Record<string, unknown>>;
}


describe('hosts.toml', () => {
  it('mirrors an upstream to the internal registry with override_path, the CA and the credentials header', () => {
    const parsed = parseToml(renderMirrorHostsToml('registry.k8s.io', { endpoint: '10.0.0.5:5000', ca: '../10.0.0.5:5000/ca.crt', authorization: 'Basic eDp5' })) as unknown as HostsToml;
    expect(parsed.server).toBe('https://registry.k8s.io');
    expect(Object.keys(parsed.host)).toEqual(['https://10.0.0.5:5000/v2/registry.k8s.io']);
    expect(parsed.host['https://10.0.0.5:5000/v2/registry.k8s.io']).toEqual({
      capabilities: ['pull', 'resolve'],
      ca: '../10.0.0.5:5000/ca.crt',
      override_path: true,
      header: { authorization: 'Basic eDp5' },
    });
  });

  it("points docker.io's fallback at Docker Hub's API host, as containerd does", () => {
    const parsed = parseToml(renderMirrorHostsToml('docker.io', { endpoint: 'reg:5000', ca: 'x' })) as unknown as HostsToml;
    expect(parsed.server).toBe('https://registry-1.docker.io');
    expect(parsed.host['https://reg:5000/v2/docker.io']!['header']).toBeUndefined();
  });

  it("describes the internal registry itself with push, and podman's rewrites by prefix", () => {
    const own = parseToml(renderRegistryHostsToml({ endpoint: 'reg:5000', ca: 'ca.crt' })) as unknown as HostsToml;
    expect(own).toEqual({ server: 'https://reg:5000', host: { 'https://reg:5000': { capabilities: ['pull', 'resolve', 'push'], ca: 'ca.crt' } } });
    const conf = parseToml(renderRegistriesConf({ host: 'reg:5000' }, ['quay.io', 'registry.corp:5000'])) as { registry: unknown };
    expect(conf.registry).toEqual([
      { prefix: 'quay.io', location: 'reg:5000/quay.io' },
      { prefix: 'registry.corp:5000', location: 'reg:5000/registry.corp_5000' },
    ]);
  });
});

describe('hosts.toml for a registry that keeps images under a prefix (a Harbor project)', () => {
  it('serves every upstream from /v2/<prefix>/<upstream host> with override_path, and the system trust store when no CA is given', () => {
    const parsed = parseToml(renderMirrorHostsToml('registry.corp:5000', { endpoint: 'harbor.site', prefix: 'platform/k8s' })) as unknown as HostsToml;
    expect(parsed.server).toBe('https://registry.corp:5000');
    expect(parsed.host).toEqual({ 'https://harbor.site/v2/platform/k8s/registry.corp_5000': { capabilities: ['pull', 'resolve'], override_path: true } });
    const own = parseToml(renderRegistryHostsToml({ endpoint: 'harbor.site' })) as unknown as HostsToml;
    expect(own.host['https://harbor.site']).toEqual({ capabilities: ['pull', 'resolve', 'push'] });
    const conf = parseToml(renderRegistriesConf({ host: 'harbor.site', prefix: 'k8s' }, ['docker.io'])) as { registry: unknown };
    expect(conf.registry).toEqual([{ prefix: 'docker.io', location: 'harbor.site/k8s/docker.io' }]);
  });
});

describe('the systemd unit', () => {
  it('restarts the registry, starts it at boot and quotes what systemd would expand', () => {
    const unit = renderUnit({ description: 'ag internal registry', argv: ['/var/lib/ag registry/bin/registry', 'serve', '/etc/x%y.yml'], dir: '/var/lib/ag registry' });
    expect(unit).toContain('\nRestart=always\n');
    expect(unit).toContain('\n[Install]\nWantedBy=multi-user.target\n');
    expect(unit).toContain('After=network-online.target');
    expect(unit).toContain('ExecStart="/var/lib/ag registry/bin/registry" serve /etc/x%%y.yml\n');
    expect(unit).toContain('WorkingDirectory="/var/lib/ag registry"');
  });
});

describe('the distribution config', () => {
  it('has TLS, htpasswd, storage under the directory and deletes disabled', () => {
    const text = renderDistributionConfig({
      listen: '0.0.0.0:5000',
      storageDir: '/d/storage',
      serverCert: '/d/private/server.crt',
      serverKey: '/d/private/server.key',
      htpasswd: '/d/auth/htpasswd',
      httpSecret: 's3cret',
    });
    const config = parseYaml(text);
    expect(config.http).toMatchObject({ addr: '0.0.0.0:5000', secret: 's3cret', tls: { certificate: '/d/private/server.crt', key: '/d/private/server.key' } });
    expect(config.auth).toEqual({ htpasswd: { realm: 'ag-registry', path: '/d/auth/htpasswd' } });
    expect(config.storage.filesystem.rootdirectory).toBe('/d/storage');
    expect(config.storage.delete.enabled).toBe(false);
    expect(config.validation.manifests.urls.allow).toEqual(['^https?://']);
    expect(renderDistributionConfig({ listen: '0.0.0.0:5000', storageDir: '/d/storage', serverCert: '/d/private/server.crt', serverKey: '/d/private/server.key', htpasswd: '/d/auth/htpasswd', httpSecret: 's3cret' })).toBe(text);
  });
});

describe('credentials', () => {
  it('writes $2y$ bcrypt htpasswd lines that verify, and only for the right password', async () => {
    const line = htpasswdLine('ag', 'pw');
    expect(line).toMatch(/^ag:\$2y\$05\$.{53}\n$/);
    const users = parseHtpasswd(`# comment\n${line}legacy:{SHA}abc\n`);
    expect([...users.keys()]).toEqual(['ag']);
    expect(await checkPassword(users, 'ag', 'pw')).toBe(true);
    expect(await checkPassword(users, 'ag', 'nope')).toBe(false);
    expect(await checkPassword(users, 'other', 'pw')).toBe(false);
  });

  it('reads username:password and rejects anything else', () => {
    expect(parseCredentials('ag:a:b\n', 'f')).toEqual({ username: 'ag', password: 'a:b' });
    expect(() => parseCredentials('nocolon\n', 'f')).toThrow(/username:password/);
  });
});

describe('endpoints and ranges', () => {
  it('parses listen addresses and picks the endpoint clients use', () => {
    expect(parseHostPort('[::]:5000', 'x')).toEqual({ host: '::', port: 5000 });
    expect(parseHostPort(':5000', 'x')).toEqual({ host: '', port: 5000 });
    expect(() => parseHostPort('5000', 'x')).toThrow(/HOST:PORT/);
    expect(resolveEndpoint({ host: '127.0.0.1', port: 5000 }, {})).toBe('127.0.0.1:5000');
    expect(resolveEndpoint({ host: '0.0.0.0', port: 5000 }, { hosts: ['registry.example'] })).toBe('registry.example:5000');
    expect(resolveEndpoint({ host: '0.0.0.0', port: 5000 }, { endpoint: 'r.example:443' })).toBe('r.example:443');
  });

  it('parses single byte ranges the way HTTP does', () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('bytes=0-3', 10)).toEqual({ start: 0, end: 3 });
    expect(parseRange('bytes=5-', 10)).toEqual({ start: 5, end: 9 });
    expect(parseRange('bytes=-4', 10)).toEqual({ start: 6, end: 9 });
    expect(parseRange('bytes=8-100', 10)).toEqual({ start: 8, end: 9 });
    expect(parseRange('bytes=10-', 10)).toBeNull();
    expect(parseRange('bytes=0-1,3-4', 10)).toBeNull();
  });
});

describe('the container modes', () => {
  const spec = { image: 'docker.io/library/registry:2.8.2', binary: '/bin/registry', configFile: '/d/config.yml', dir: '/d', logFile: '/d/registry.log' };

  it('run the image on the host network with the directory at the same path and a restart policy', () => {
    expect(runCommand({ runtime: 'docker' }, spec)).toEqual([
      'docker', 'run', '--detach', '--name', 'ag-registry', '--restart', 'always', '--network', 'host',
      '--volume', '/d:/d', '--entrypoint', '/bin/registry', 'docker.io/library/registry:2.8.2', 'serve', '/d/config.yml',
    ]);
    // SELinux hosts: podman relabels the mount for the container.
    expect(runCommand({ runtime: 'podman' }, spec)).toContain('/d:/d:Z');
    const ctr = runCommand({ runtime: 'containerd', address: '/run/c.sock', namespace: 'ag' }, spec);
    expect(ctr.slice(0, 6)).toEqual(['ctr', '--address', '/run/c.sock', '--namespace', 'ag', 'run']);
    expect(ctr).toEqual(expect.arrayContaining(['--net-host', 'type=bind,src=/d,dst=/d,options=rbind:rw', 'containerd.io/restart.status=running']));
    expect(ctr.slice(-5)).toEqual(['docker.io/library/registry:2.8.2', 'ag-registry', '/bin/registry', 'serve', '/d/config.yml']);
    expect(stopCommand({ runtime: 'podman' })).toBe('podman rm --force ag-registry');
  });
});
