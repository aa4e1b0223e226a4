import cliProgress from 'cli-progress';
import type { Io } from './io.js';

/** One unit of work with a known or unknown total, in bytes or items. */
export interface ProgressTask {
  /** Adds to the amount done. */
  advance(amount: number): void;
  /** Sets the total once it is known (a Content-Length, say). */
  setTotal(total: number): void;
  done(): void;
}

export interface Progress {
  task(label: string, total?: number, unit?: 'bytes' | 'items'): ProgressTask;
  /**
   * Says how big the whole job is, when the command knows before it starts:
   * `items` things (files, images) of `bytes` in all (the bytes it knows of).
   * Each byte task then counts as one of those items when it is done.
   */
  expect(items: number, bytes?: number, noun?: string): void;
  /**
   * Runs `write` (a log line to stderr) with the bars out of its way: they
   * are cleared first and drawn again below it at the next frame, so a log
   * line never lands on the end of a bar or leaves a stale bar behind.
   */
  interrupt(write: () => void): void;
  /** Removes the bars; call before the command returns. */
  stop(): void;
}

const noopTask: ProgressTask = { advance: () => undefined, setTotal: () => undefined, done: () => undefined };

/** Progress that draws nothing: in a pipe, with `--quiet`, or with JSON logs. */
export const noProgress: Progress = { task: () => noopTask, expect: () => undefined, interrupt: (write) => write(), stop: () => undefined };

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** 75 -> "1:15", 3725 -> "1:02:05". */
function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const hms = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const [h, m, sec] = hms as [number, number, number];
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/** What the one line sums up: every task's amounts, and the job's size when the command said it. */
export class ProgressTotals {
  private readonly startedMs: number;
  private expectedItems: number | undefined;
  private expectedBytes: number | undefined;
  private noun = 'items';
  bytesDone = 0;
  /** The sum of the byte tasks' totals (a task of unknown size adds 0). */
  bytesTotal = 0;
  itemsDone = 0;
  itemsTotal = 0;
  byteTasks = 0;
  byteTasksDone = 0;

  constructor(private readonly now: () => number = Date.now) {
    this.startedMs = now();
  }

  expect(items: number, bytes?: number, noun?: string): void {
    this.expectedItems = items;
    if (bytes !== undefined) this.expectedBytes = bytes;
    if (noun !== undefined) this.noun = noun;
  }

  /** The line: `label [bar] 3/12 items · 45.2 MiB/120.0 MiB · 5.1 MiB/s · 0:15 left`. */
  line(label: string, width = 30): string {
    // Items are counted when the command said how many (download: files), or by tasks counted in items (blobs verified).
    const items = this.expectedItems ?? this.itemsTotal;
    const itemsDone = this.itemsDone + this.byteTasksDone;
    const bytesTotal = Math.max(this.expectedBytes ?? 0, this.bytesTotal, this.bytesDone);
    const elapsed = Math.max(0.001, (this.now() - this.startedMs) / 1000);
    // The bar and the time left go by bytes when any are counted, else by items.
    const byBytes = this.bytesDone > 0 || bytesTotal > 0;
    const done = byBytes ? this.bytesDone : itemsDone;
    const total = byBytes ? bytesTotal : items;
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(ratio * width);
    const parts = [`${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`];
    if (items > 0) parts.push(`${Math.min(itemsDone, items)}/${items} ${this.noun}`);
    else if (itemsDone > 0) parts.push(`${itemsDone} ${this.noun}`);
    if (byBytes) parts.push(`${formatBytes(this.bytesDone)}/${bytesTotal > 0 ? formatBytes(bytesTotal) : '?'}`);
    const rate = done / elapsed;
    parts.push(byBytes ? `${formatBytes(rate)}/s` : `${rate.toFixed(1)} items/s`);
    parts.push(total > 0 && done < total && rate > 0 ? `${formatDuration((total - done) / rate)} left` : `${formatDuration(elapsed)} elapsed`);
    return parts.join(' · ').replace(' · ', ' ');
  }
}

/**
 * Progress on stderr when it is a terminal; nothing otherwise, so a
 * pipeline's logs stay clean. One line for the whole command (items done of
 * total, bytes, rate, time left); with `verbose`, a bar per item under it too.
 */
export function createProgress(io: Pick<Io, 'stderr'>, enabled: boolean, options: { label?: string; verbose?: boolean } = {}): Progress {
  if (!enabled || !io.stderr.isTTY) return noProgress;
  const label = options.label ?? 'working';
  const totals = new ProgressTotals();
  const bars = new cliProgress.MultiBar(
    {
      stream: io.stderr as unknown as NodeJS.WritableStream,
      clearOnComplete: true,
      hideCursor: true,
      format: (barOptions, params, payload: { label: string; unit: 'bytes' | 'items'; overall?: boolean }) => {
        if (payload.overall === true) return totals.line(label, Math.min(30, barOptions.barsize ?? 30));
        const width = barOptions.barsize ?? 30;
        const ratio = params.total > 0 ? Math.min(1, params.value / params.total) : 0;
        const filled = Math.round(ratio * width);
        const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
        const amount =
          payload.unit === 'bytes'
            ? `${formatBytes(params.value)}/${params.total > 0 ? formatBytes(params.total) : '?'}`
            : `${params.value}/${params.total > 0 ? params.total : '?'}`;
        return `  ${payload.label.padEnd(38).slice(0, 38)} [${bar}] ${amount}`;
      },
    },
    cliProgress.Presets.shades_classic,
  );
  let overall: cliProgress.SingleBar | undefined;
  // Redrawn by cli-progress's own timer; each change just nudges it.
  const touch = (): void => {
    overall ??= bars.create(1, 0, { label, unit: 'bytes', overall: true });
    overall.update(totals.bytesDone + totals.itemsDone + totals.byteTasksDone);
  };
  return {
    task(taskLabel, total = 0, unit = 'bytes') {
      if (unit === 'bytes') {
        totals.byteTasks += 1;
        totals.bytesTotal += total;
      } else totals.itemsTotal += total;
      touch();
      const bar = options.verbose === true ? bars.create(total, 0, { label: taskLabel, unit }) : undefined;
      let shownTotal = total;
      let finished = false;
      return {
        advance: (amount) => {
          if (unit === 'bytes') totals.bytesDone += amount;
          else totals.itemsDone += amount;
          bar?.increment(amount);
          touch();
        },
        setTotal: (t) => {
          if (unit === 'bytes') totals.bytesTotal += t - shownTotal;
          else totals.itemsTotal += t - shownTotal;
          shownTotal = t;
          bar?.setTotal(t);
          touch();
        },
        done: () => {
          if (finished) return;
          finished = true;
          if (unit === 'bytes') totals.byteTasksDone += 1;
          if (bar !== undefined) {
            bar.stop();
            bars.remove(bar);
          }
          touch();
        },
      };
    },
    expect(items, bytes, noun) {
      totals.expect(items, bytes, noun);
      touch();
    },
    interrupt(write) {
      // cli-progress keeps its cursor bookkeeping in these (lib/multi-bar.js, lib/terminal.js); no public API clears the bars mid-run.
      const internals = bars as unknown as { isActive: boolean; terminal: { cursorRelativeReset(): void; clearBottom(): void } };
      if (internals.isActive) {
        internals.terminal.cursorRelativeReset();
        internals.terminal.clearBottom();
      }
      write();
    },
    stop: () => bars.stop(),
  };
}

export { formatBytes, formatDuration };
