import type { ProgressTask } from '../progress.js';
import type { DownloadProgress } from './download.js';

/**
 * Turns the downloader's progress events (bytes so far) into a progress bar's
 * increments; a restart from byte 0 resets the bar instead of overshooting.
 */
export function progressCallback(task: ProgressTask): (progress: DownloadProgress) => void {
  let shown = 0;
  let totalSet: number | undefined;
  return (progress) => {
    if (progress.total !== undefined && progress.total !== totalSet) {
      totalSet = progress.total;
      task.setTotal(progress.total);
    }
    // A negative step (the download started over) moves the bar back.
    task.advance(progress.received - shown);
    shown = progress.received;
  };
}
