import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Reporter } from './reporter.js';

/** One command: argv, and how it shows in the transcript (default: argv joined). */
export interface Command {
  argv: string[];
  display?: string;
  /** A file (relative to the shell's cwd) for stdin. */
  stdin?: string;
  /** A file (relative to the shell's cwd) for stdout; otherwise stdout is returned. */
  stdout?: string;
  env?: Record<string, string>;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  ms: number;
}

/** A command failed: names it, its exit code and what it said. */
export class CommandError extends Error {
  constructor(
    readonly display: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${display} exited ${exitCode ?? 'on a signal'}:\n${stderr.trim().split('\n').slice(-25).join('\n')}`);
  }
}

/**
 * Runs commands inside one network namespace (`ip netns exec NAME …`), from
 * one working directory, the way an operator's shell on that side would,
 * and reports each command and the lines it writes on stderr.
 */
export class Shell {
  constructor(
    /** `['ip', 'netns', 'exec', NAME]`. */
    readonly prefix: string[],
    readonly cwd: string,
    readonly reporter: Reporter,
    private readonly baseEnv: Record<string, string> = {},
  ) {}

  private spawn(command: Command, stdin: 'ignore' | 'pipe'): ChildProcess {
    const argv = [...this.prefix, ...command.argv];
    return spawn(argv[0]!, argv.slice(1), {
      cwd: this.cwd,
      env: { ...process.env, ...this.baseEnv, ...command.env },
      stdio: [stdin, 'pipe', 'pipe'],
    });
  }

  private collect(child: ChildProcess): () => string {
    let text = '';
    let partial = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      text += chunk;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.reporter.output(line);
    });
    child.stderr!.on('end', () => {
      if (partial !== '') this.reporter.output(partial);
    });
    return () => text;
  }

  /** Runs one command; rejects with a CommandError when it exits non-zero. */
  async run(command: Command): Promise<CommandResult> {
    const results = await this.pipeline([command], command.stdout);
    return results[0]!;
  }

  /**
   * Runs `a | b | c [> out]` as separate processes joined by pipes. Each
   * stage reads its whole input before it starts work, so a stage's time is
   * from the previous stage's exit to its own. Rejects with the first
   * failing stage's CommandError (pipefail).
   */
  async pipeline(commands: Command[], out?: string): Promise<CommandResult[]> {
    const display = commands.map((c) => c.display ?? c.argv.join(' ')).join(' \\\n      | ');
    const first = commands[0]!;
    this.reporter.command(`${first.stdin ? `${display} < ${first.stdin}` : display}${out ? ` > ${out}` : ''}`);
    const started = Date.now();
    const children = commands.map((command, index) => this.spawn(command, index === 0 && command.stdin === undefined ? 'ignore' : 'pipe'));
    const stderr = children.map((child) => this.collect(child));
    if (first.stdin !== undefined) createReadStream(join(this.cwd, first.stdin)).pipe(children[0]!.stdin!);
    for (let i = 1; i < children.length; i += 1) children[i - 1]!.stdout!.pipe(children[i]!.stdin!);
    const last = children[children.length - 1]!;
    let stdout = '';
    let written: Promise<unknown> = Promise.resolve();
    if (out !== undefined) {
      const sink = createWriteStream(join(this.cwd, out));
      last.stdout!.pipe(sink);
      written = once(sink, 'close');
    } else {
      last.stdout!.setEncoding('utf8');
      last.stdout!.on('data', (chunk: string) => (stdout += chunk));
    }
    const exits = await Promise.all(
      children.map(
        (child) =>
          new Promise<{ code: number | null; at: number }>((resolve, reject) => {
            child.once('error', reject);
            child.once('close', (code) => resolve({ code, at: Date.now() }));
          }),
      ),
    );
    await written;
    const failed = exits.findIndex((exit) => exit.code !== 0);
    if (failed >= 0) {
      const command = commands[failed]!;
      throw new CommandError(command.display ?? command.argv.join(' '), exits[failed]!.code, stderr[failed]!());
    }
    return exits.map((exit, index) => ({
      stdout: index === exits.length - 1 ? stdout : '',
      stderr: stderr[index]!(),
      ms: exit.at - (index === 0 ? started : Math.min(exit.at, exits[index - 1]!.at)),
    }));
  }
}
