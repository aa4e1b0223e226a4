import { appendFile, rename, stat } from 'node:fs/promises';

/** The access log is rotated past this size: one previous file (`.1`) is kept. */
export const ACCESS_LOG_MAX_BYTES = 16 << 20;
const FLUSH_MS = 1_000;
/** Lines held at most between flushes; beyond, they are counted as dropped (a flood must not grow memory). */
const PENDING_MAX = 50_000;

/**
 * One line per request, off the hot path: lines are gathered in memory and
 * appended once a second (asynchronously), not written synchronously to
 * stderr per request; the file is rotated at ACCESS_LOG_MAX_BYTES.
 */
export class AccessLog {
  private pending: string[] = [];
  private dropped = 0;
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly path: string,
    private readonly maxBytes = ACCESS_LOG_MAX_BYTES,
  ) {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  write(line: string): void {
    if (this.pending.length >= PENDING_MAX) this.dropped += 1;
    else this.pending.push(line);
  }

  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    if (this.pending.length === 0 && this.dropped === 0) return;
    const lines = this.pending;
    this.pending = [];
    if (this.dropped > 0) lines.push(`${new Date().toISOString()} ${this.dropped} request line(s) dropped: more than ${PENDING_MAX} a second`);
    this.dropped = 0;
    this.flushing = (async () => {
      try {
        const size = await stat(this.path).then((s) => s.size, () => 0);
        if (size > this.maxBytes) await rename(this.path, `${this.path}.1`);
        await appendFile(this.path, `${lines.join('\n')}\n`, { mode: 0o600 });
      } catch {
        // A log that cannot be written must not stop the registry serving.
      }
    })();
    await this.flushing;
    this.flushing = undefined;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
