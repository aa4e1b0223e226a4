import type { Reporter, Side } from './reporter.js';

/** One stage of the run and how long it took. */
export interface StageTiming {
  side: Side;
  name: string;
  ms: number;
}

/** Announces stages on the reporter and records their times. */
export class Stages {
  readonly timings: StageTiming[] = [];
  constructor(readonly reporter: Reporter) {}

  /** Runs `work` as one stage. */
  async run<T>(side: Side, name: string, work: () => Promise<T>): Promise<T> {
    this.reporter.stage(side, name);
    const started = Date.now();
    const result = await work();
    this.record(side, name, Date.now() - started);
    return result;
  }

  /** Records a stage timed elsewhere (a stage of a pipeline). */
  record(side: Side, name: string, ms: number): void {
    this.timings.push({ side, name, ms });
  }
}
