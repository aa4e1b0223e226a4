import { readFile } from 'node:fs/promises';
import { processAlive } from '../oci/process-alive.js';

/**
 * Whether a process has ended: no such process, or a zombie nobody has reaped yet (an orphan's zombie waits
 * for pid 1, which on some machines never reaps it). proc(5): the state is the field after the command name.
 */
export async function processEnded(pid: number): Promise<boolean> {
  if (!processAlive(pid)) return true;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat === '' || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}
