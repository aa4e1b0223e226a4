/** Where the scenario says what it is doing: the demo prints it, the test keeps it for failure messages. */
export interface Reporter {
  /** A stage begins (`connected`, `carry` or `far` side). */
  stage(side: Side, title: string): void;
  /** A command, as an operator would type it. */
  command(line: string): void;
  /** A line a tool or program wrote on stderr. */
  output(line: string): void;
  /** A finding or a result. */
  note(line: string): void;
}

export type Side = 'connected' | 'carry' | 'far';

/** Keeps every line (for a failed test's message) and optionally echoes them. */
export class Transcript implements Reporter {
  readonly lines: string[] = [];
  constructor(private readonly echo?: (line: string) => void) {}

  private add(line: string): void {
    this.lines.push(line);
    this.echo?.(line);
  }
  stage(side: Side, title: string): void {
    this.add('');
    this.add(`[${side}] ${title}`);
  }
  command(line: string): void {
    this.add(`  $ ${line}`);
  }
  output(line: string): void {
    this.add(`    ${line}`);
  }
  note(line: string): void {
    this.add(`  = ${line}`);
  }
  /** The last `count` lines, for an error message. */
  tail(count = 80): string {
    return this.lines.slice(-count).join('\n');
  }
}
