import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestIo } from '@ag/core/testing';
import { installAndStart, renderUnit, stopAndRemove, systemdIsRunning } from './systemd.js';

// No systemd on the build machines (PID 1 is not systemd): a recording stand-in for systemctl checks what ag asks of it.
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agr-systemd-'));
  const fake = join(dir, 'systemctl');
  await writeFile(fake, `#!/bin/sh\necho "$*" >> ${join(dir, 'calls')}\n`);
  await chmod(fake, 0o755);
  env = { PATH: `${dir}:${process.env['PATH']}` };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the systemd runner', () => {
  it('is chosen only when the host booted with systemd', async () => {
    expect(systemdIsRunning(join(dir, 'no-such-dir'))).toBe(false);
    expect(systemdIsRunning(dir)).toBe(true);
  });

  it('installs the unit, enables and (re)starts it; stopping disables it and removes the file', async () => {
    const io = createTestIo({ env });
    const unitDir = join(dir, 'units');
    const unit = renderUnit({ description: 'ag internal registry', argv: ['/usr/bin/docker-registry', 'serve', '/var/lib/ag-registry/config.yml'], dir: '/var/lib/ag-registry' });
    const path = await installAndStart(unit, { io, unitDir });
    expect(path).toBe(join(unitDir, 'ag-registry.service'));
    expect(await readFile(path, 'utf8')).toBe(unit);
    await installAndStart(unit, { io, unitDir });
    expect((await readFile(join(dir, 'calls'), 'utf8')).trim().split('\n')).toEqual([
      'daemon-reload',
      'enable ag-registry.service',
      'restart ag-registry.service',
      'daemon-reload',
      'enable ag-registry.service',
      'start ag-registry.service',
    ]);
    expect(await stopAndRemove({ io, unitDir })).toBe(true);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(join(dir, 'calls'), 'utf8')).toContain('disable --now ag-registry.service\ndaemon-reload\n');
    expect(await stopAndRemove({ io, unitDir })).toBe(false);
  });
});
