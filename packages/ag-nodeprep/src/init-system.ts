import { stat } from 'node:fs/promises';
import { firstExisting } from './root-fs.js';

export interface InitInfo {
  /** `systemd`, or `unknown` when no systemd is installed. */
  name: 'systemd' | 'unknown';
  /** Host mode only: whether systemd is PID 1 now (sd_booted(3): /run/systemd/system exists). */
  running: boolean;
  detail: string;
}

/**
 * Tells the init system of the node: systemd when its binary is installed
 * in the root; on the host itself also whether it is the running init
 * (a container or a chroot has systemd installed but not running, and then
 * systemctl cannot start or restart anything).
 */
export async function detectInit(root: string, hostMode: boolean): Promise<InitInfo> {
  const binary = await firstExisting(root, ['/usr/lib/systemd/systemd', '/lib/systemd/systemd']);
  if (binary === undefined) return { name: 'unknown', running: false, detail: 'no systemd installed (/usr/lib/systemd/systemd is missing)' };
  if (!hostMode) return { name: 'systemd', running: false, detail: `systemd installed (${binary}); not started: --root prepares files only` };
  const booted = await stat('/run/systemd/system').then(
    (info) => info.isDirectory(),
    () => false,
  );
  return {
    name: 'systemd',
    running: booted,
    detail: booted ? 'systemd is running as init' : 'systemd is installed but not running as init (a container or a chroot?)',
  };
}
