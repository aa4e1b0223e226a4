import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Bytes of the shared ring the main thread copies into and the worker hashes from. */
const RING_BYTES = 8 * 1024 * 1024;

// Control words (Int32Array over a SharedArrayBuffer). Positions are BigInt64 in a second view.
const WRITE_SIGNAL = 0;
const READ_SIGNAL = 1;
const ENDED = 2;
const WRITE_POS = 0;
const READ_POS = 1;

/**
 * The worker: SHA-256 of every byte that passes through the ring, and of
 * each `partSize` slice. CommonJS source, run with `eval`, so the bundled
 * tool needs no second file.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { ring, control, positions, partSize } = workerData;
const signals = new Int32Array(control);
const pos = new BigInt64Array(positions);
const data = Buffer.from(ring);
const size = data.length;
const whole = createHash('sha256');
const parts = [];
let part = partSize ? createHash('sha256') : undefined;
let inPart = 0;
let read = 0n;
function hash(chunk) {
  whole.update(chunk);
  let at = 0;
  while (part !== undefined && at < chunk.length) {
    const take = Math.min(partSize - inPart, chunk.length - at);
    part.update(chunk.subarray(at, at + take));
    at += take;
    inPart += take;
    if (inPart === partSize) {
      parts.push(part.digest('hex'));
      part = createHash('sha256');
      inPart = 0;
    }
  }
}
for (;;) {
  const seen = Atomics.load(signals, ${WRITE_SIGNAL});
  const write = Atomics.load(pos, ${WRITE_POS});
  if (write === read) {
    if (Atomics.load(signals, ${ENDED}) === 1) break;
    Atomics.wait(signals, ${WRITE_SIGNAL}, seen);
    continue;
  }
  while (read < write) {
    const at = Number(read % BigInt(size));
    const n = Math.min(Number(write - read), size - at);
    hash(data.subarray(at, at + n));
    read += BigInt(n);
  }
  Atomics.store(pos, ${READ_POS}, read);
  Atomics.add(signals, ${READ_SIGNAL}, 1);
  Atomics.notify(signals, ${READ_SIGNAL});
}
if (part !== undefined && (inPart > 0 || parts.length === 0)) parts.push(part.digest('hex'));
parentPort.postMessage({ sha256: whole.digest('hex'), parts });
`;

export interface ParallelDigest {
  sha256: string;
  /** One per `partSize` slice, when a part size was given. */
  parts: string[];
}

/** The archive-wide sha256 and each part's, however they are computed. */
export interface ArchiveHasher {
  update(chunk: Uint8Array): Promise<void>;
  digest(): Promise<ParallelDigest>;
  abort(): Promise<void>;
}

/** The same sums on the main thread: for a single core, where a worker only adds copying. */
export class InlineHash implements ArchiveHasher {
  private readonly partSize: number | undefined;
  private readonly whole: Hash = createHash('sha256');
  private readonly parts: string[] = [];
  private part: Hash | undefined;
  private inPart = 0;

  constructor(partSize?: number) {
    this.partSize = partSize;
    this.part = partSize === undefined ? undefined : createHash('sha256');
  }

  async update(chunk: Uint8Array): Promise<void> {
    this.whole.update(chunk);
    let at = 0;
    while (this.part !== undefined && at < chunk.length) {
      const take = Math.min(this.partSize! - this.inPart, chunk.length - at);
      this.part.update(chunk.subarray(at, at + take));
      at += take;
      this.inPart += take;
      if (this.inPart === this.partSize) {
        this.parts.push(this.part.digest('hex'));
        this.part = createHash('sha256');
        this.inPart = 0;
      }
    }
  }

  async digest(): Promise<ParallelDigest> {
    if (this.part !== undefined && (this.inPart > 0 || this.parts.length === 0)) this.parts.push(this.part.digest('hex'));
    return { sha256: this.whole.digest('hex'), parts: this.parts };
  }

  async abort(): Promise<void> {}
}

/**
 * A hasher for a bundle's archive-wide and per-part sums: on a worker when
 * there is a second core, else inline. `AG_BUNDLE_INLINE_HASH=1` forces
 * inline (to compare the two).
 */
export function createArchiveHasher(partSize?: number): ArchiveHasher {
  return availableParallelism() < 2 || process.env['AG_BUNDLE_INLINE_HASH'] === '1' ? new InlineHash(partSize) : new ParallelHash(partSize);
}

type WaitAsync = (array: Int32Array, index: number, value: number) => { async: boolean; value: Promise<string> | string };

/**
 * SHA-256 on a second core: the archive-wide (and per-part) hashes of a
 * bundle are computed by a worker thread while the main thread reads,
 * writes and checks each file's own hash, so pack and split verify pay for
 * one hash pass in wall time, not two. Bytes reach the worker through an
 * 8 MiB shared ring (one copy, no message per chunk); the main thread waits
 * only when the worker is a whole ring behind, so memory stays flat.
 */
export class ParallelHash implements ArchiveHasher {
  private readonly worker: Worker;
  private readonly data: Buffer;
  private readonly signals: Int32Array;
  private readonly positions: BigInt64Array;
  private write = 0n;
  private failure: Error | undefined;
  private readonly result: Promise<ParallelDigest>;

  constructor(partSize?: number) {
    const ring = new SharedArrayBuffer(RING_BYTES);
    const control = new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT);
    const positions = new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT);
    this.data = Buffer.from(ring);
    this.signals = new Int32Array(control);
    this.positions = new BigInt64Array(positions);
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ring, control, positions, partSize } });
    this.result = new Promise<ParallelDigest>((resolve, reject) => {
      this.worker.once('message', resolve);
      this.worker.once('error', (error) => {
        this.failure = error;
        reject(error);
        // Wake a writer waiting for room that will never come.
        Atomics.add(this.signals, READ_SIGNAL, 1);
        Atomics.notify(this.signals, READ_SIGNAL);
      });
    });
    this.result.catch(() => undefined);
  }

  /** Room in the ring, waiting for the worker when there is none. */
  private async room(): Promise<number> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const seen = Atomics.load(this.signals, READ_SIGNAL);
      const free = RING_BYTES - Number(this.write - Atomics.load(this.positions, READ_POS));
      if (free > 0) return free;
      const waited = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(this.signals, READ_SIGNAL, seen);
      if (waited.async) await waited.value;
    }
  }

  /** Copies bytes into the ring for the worker to hash. */
  async update(chunk: Uint8Array): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      const free = await this.room();
      const offset = Number(this.write % BigInt(RING_BYTES));
      const n = Math.min(free, RING_BYTES - offset, chunk.length - at);
      this.data.set(chunk.subarray(at, at + n), offset);
      at += n;
      this.write += BigInt(n);
      Atomics.store(this.positions, WRITE_POS, this.write);
      Atomics.add(this.signals, WRITE_SIGNAL, 1);
      Atomics.notify(this.signals, WRITE_SIGNAL);
    }
  }

  /** The digests of everything sent; ends the worker. */
  async digest(): Promise<ParallelDigest> {
    Atomics.store(this.signals, ENDED, 1);
    Atomics.add(this.signals, WRITE_SIGNAL, 1);
    Atomics.notify(this.signals, WRITE_SIGNAL);
    try {
      return await this.result;
    } finally {
      await this.worker.terminate();
    }
  }

  /** Ends the worker without a result (on failure). */
  async abort(): Promise<void> {
    await this.worker.terminate();
  }
}
