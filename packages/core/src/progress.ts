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
  /** Removes the bars; call before the command returns. */
  stop(): void;
}

const noopTask: ProgressTask = { advance: () => undefined, setTotal: () => undefined, done: () => undefined };

/** Progress that draws nothing: in a pipe, with `--quiet`, or with JSON logs. */
export const noProgress: Progress = { task: () => noopTask, stop: () => undefined };

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

/**
 * Progress bars on stderr when it is a terminal; nothing otherwise, so a
 * pipeline's logs stay clean.
 */
export function createProgress(io: Pick<Io, 'stderr'>, enabled: boolean): Progress {
  if (!enabled || !io.stderr.isTTY) return noProgress;
  const bars = new cliProgress.MultiBar(
    {
      stream: io.stderr as unknown as NodeJS.WritableStream,
      clearOnComplete: true,
      hideCursor: true,
      format: (options, params, payload: { label: string; unit: 'bytes' | 'items' }) => {
        const width = options.barsize ?? 30;
        const ratio = params.total > 0 ? Math.min(1, params.value / params.total) : 0;
        const filled = Math.round(ratio * width);
        const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
        const amount =
          payload.unit === 'bytes'
            ? `${formatBytes(params.value)}/${params.total > 0 ? formatBytes(params.total) : '?'}`
            : `${params.value}/${params.total > 0 ? params.total : '?'}`;
        return `${payload.label.padEnd(40).slice(0, 40)} [${bar}] ${amount}`;
      },
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    task(label, total = 0, unit = 'bytes') {
      const bar = bars.create(total, 0, { label, unit });
      return {
        advance: (amount) => bar.increment(amount),
        setTotal: (t) => bar.setTotal(t),
        done: () => {
          bar.stop();
          bars.remove(bar);
        },
      };
    },
    stop: () => bars.stop(),
  };
}

export { formatBytes };
