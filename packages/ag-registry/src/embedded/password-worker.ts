import { Worker } from 'node:worker_threads';
import { bcryptSource } from './bcrypt-source.js';

/** The worker: bcryptjs defined from its source, then one compareSync per message, in order. */
function workerSource(bcrypt: string): string {
  return `
const { parentPort } = require('node:worker_threads');
const bcrypt = (() => {
  const module = { exports: {} };
  (function (exports, module, define) {
${bcrypt}
  })(module.exports, module, undefined);
  return module.exports;
})();
parentPort.on('message', ({ id, password, hash }) => {
  let ok = false;
  try {
    ok = bcrypt.compareSync(password, hash);
  } catch {
    // A malformed hash matches nothing.
  }
  parentPort.postMessage({ id, ok });
});
`;
}

interface Pending {
  resolve: (ok: boolean) => void;
  reject: (error: Error) => void;
}

/**
 * bcrypt off the event loop: comparisons run on one worker thread, so a
 * wrong-password flood costs that thread's time, not the turns of the loop
 * that serves verified clients (bcryptjs's async compare runs its rounds on
 * the main thread, in slices). One worker: the checks stay serialised, a
 * flood queues behind itself and takes at most one core. The worker is
 * started on the first check, keeps the process alive only while a check is
 * pending, and is started again if it dies.
 */
export class PasswordWorker {
  private current: { worker: Worker; pending: Map<number, Pending> } | undefined;
  private nextId = 0;

  /** Whether `password` matches the bcrypt `hash` (`$2y$` read as `$2b$`, the same algorithm). */
  compare(password: string, hash: string): Promise<boolean> {
    const { worker, pending } = this.started();
    const id = this.nextId++;
    return new Promise<boolean>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      if (pending.size === 1) worker.ref();
      worker.postMessage({ id, password, hash: hash.replace(/^\$2y\$/, '$2b$') });
    });
  }

  async close(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    await current?.worker.terminate();
  }

  private started(): { worker: Worker; pending: Map<number, Pending> } {
    if (this.current !== undefined) return this.current;
    const worker = new Worker(workerSource(bcryptSource()), { eval: true });
    const pending = new Map<number, Pending>();
    worker.unref();
    worker.on('message', ({ id, ok }: { id: number; ok: boolean }) => {
      pending.get(id)?.resolve(ok);
      pending.delete(id);
      if (pending.size === 0) worker.unref();
    });
    const fail = (error: Error) => {
      if (this.current?.worker === worker) this.current = undefined;
      for (const { reject } of pending.values()) reject(new Error(`the password check thread stopped: ${error.message}`));
      pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    this.current = { worker, pending };
    return this.current;
  }
}
