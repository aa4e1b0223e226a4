import { SystemError } from '../errors.js';
import { freeBytes, roomFor } from '../space.js';

/** Room promised to one download; its bytes are crossed off as they reach the disk. */
export interface RoomReservation {
  wrote(bytes: number): void;
  release(): void;
}

/**
 * The free space of one file system, shared by downloads running at once.
 * Each asks for what it is about to write before its first byte (as soon as
 * the server says how long the file is); the free space `statfs` reports
 * must cover it plus whatever the others were promised and have not written
 * yet. A download that would not fit is refused (exit 6) before it writes.
 */
export class DiskBudget {
  private readonly promised = new Set<{ remaining: number }>();

  constructor(readonly dir: string) {}

  /** Bytes promised to downloads under way and not yet on disk. */
  get outstanding(): number {
    let sum = 0;
    for (const entry of this.promised) sum += entry.remaining;
    return sum;
  }

  async reserve(bytes: number, doing: string): Promise<RoomReservation> {
    const free = await freeBytes(this.dir);
    // Nothing awaits from here to the add: two downloads asking at once each see the other's promise.
    const others = this.outstanding;
    const needed = roomFor(bytes);
    if (free - others < needed) {
      throw new SystemError(
        `${doing}: ${this.dir} has ${free} bytes free${others > 0 ? `, ${others} of them promised to other downloads under way` : ''}; ${needed} are needed`,
        { hint: 'free disk space (or download into a directory on another file system: --dir) and run again', details: { free, promised: others, needed } },
      );
    }
    const entry = { remaining: bytes };
    this.promised.add(entry);
    return {
      wrote: (n) => {
        entry.remaining = Math.max(0, entry.remaining - n);
      },
      release: () => {
        this.promised.delete(entry);
      },
    };
  }
}
