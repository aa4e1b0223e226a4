// A set-up step that cannot go on, said in one sentence (what was being done,
// what is wrong, what to do next) with ag's exit code, never a stack trace.

/** Something the run needs is missing (a Debian package, a Node.js release). */
export const EXIT_MISSING = 5;
/** A program the set-up started (npm, apt-get, the build) failed. */
export const EXIT_CHILD_FAILED = 7;

export class SetupProblem extends Error {
  constructor(message, exitCode) {
    super(message);
    this.name = 'SetupProblem';
    this.exitCode = exitCode;
  }
}
