import { readdir, rm } from 'node:fs/promises';
import { processAlive, TEMP_MARKER } from '@ag/core';

/** The pid a temporary name (see core's tempPathFor) was made by, if it is one. */
export function tempOwner(name: string): number | undefined {
  const at = name.indexOf(TEMP_MARKER);
  if (at < 0) return undefined;
  const pid = Number(/^(\d+)-/.exec(name.slice(at + TEMP_MARKER.length))?.[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Removes what a killed ag-bundle left in `dir`: temporaries whose names
 * start with `.<stem>` and whose writing process is gone, so that the next
 * run starts clean. A temporary of a process still running is left alone
 * (another pack or unpack may be at work).
 */
export async function sweepStale(dir: string, stems: string[]): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!stems.some((stem) => name.startsWith(`.${stem}`))) continue;
    const pid = tempOwner(name);
    if (pid === undefined || processAlive(pid)) continue;
    await rm(`${dir}/${name}`, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
