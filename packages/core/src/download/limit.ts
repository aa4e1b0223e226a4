/** Runs at most `concurrency` of the functions given to it at once; the rest wait in order. */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

/** A concurrency limiter (a counting semaphore with a FIFO queue). */
export function createLimiter(concurrency: number): Limiter {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    active -= 1;
    const next = waiting.shift();
    if (next !== undefined) {
      active += 1;
      next();
    }
  };
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= concurrency) {
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      active += 1;
    }
    try {
      return await task();
    } finally {
      release();
    }
  };
}

/**
 * Runs `task` over every item with at most `concurrency` at once and waits
 * for all of them, failures included (so a caller can report every failed
 * file, not just the first). Results keep the items' order.
 */
export async function settleWithLimit<I, R>(
  items: readonly I[],
  concurrency: number,
  task: (item: I, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const limit = createLimiter(concurrency);
  return Promise.allSettled(items.map((item, index) => limit(() => task(item, index))));
}
