import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { EntrySink, EntryWriter } from './scan.js';

/**
 * Writes verified-in-flight entries under a fresh directory. Files are
 * created exclusively (`wx`), in a directory only this process made and that
 * holds nothing but regular files and directories, so no entry can be
 * redirected through a link. Paths reaching here were checked by the scan.
 *
 * No fsync per file: the final rename of the whole tree is the commit, a
 * killed unpack leaves only a temporary directory, and `tar -xf`, its peer,
 * does not sync either.
 */
export class DirectorySink implements EntrySink {
  private readonly root: string;
  private readonly made = new Set<string>();

  constructor(root: string) {
    this.root = root;
  }

  private async ensureDir(relative: string): Promise<void> {
    if (relative === '.' || relative === '' || this.made.has(relative)) return;
    await mkdir(join(this.root, relative), { recursive: true });
    this.made.add(relative);
  }

  async directory(path: string): Promise<void> {
    await this.ensureDir(path);
  }

  async file(path: string, _size: number, executable: boolean): Promise<EntryWriter> {
    await this.ensureDir(dirname(path));
    const target = join(this.root, path);
    const stream = createWriteStream(target, { flags: 'wx', mode: executable ? 0o755 : 0o644, highWaterMark: 8 << 20 });
    let failure: Error | undefined;
    stream.on('error', (error) => {
      failure ??= error;
    });
    const finished = async (): Promise<void> => {
      if (!stream.closed) await once(stream, 'close').catch(() => undefined);
    };
    return {
      write: async (chunk) => {
        if (failure !== undefined) throw failure;
        if (!stream.write(chunk)) await once(stream, 'drain');
        if (failure !== undefined) throw failure;
      },
      close: async () => {
        stream.end();
        await finished();
        if (failure !== undefined) throw failure;
      },
      abort: async () => {
        stream.destroy();
        await finished();
        await rm(target, { force: true });
      },
    };
  }
}
