import type { Io, Logger, NodeAction } from '@ag/core';

/** What an action needs while it inspects or changes the node. */
export interface ActionEnv {
  /** `/` for the host itself; another directory for a chroot, an image or a test. */
  root: string;
  /** True only when root is `/`: host commands (modprobe, sysctl, systemctl) may run. */
  hostMode: boolean;
  /** PATH and the stream children's output is copied to (never our stdout). */
  io: Pick<Io, 'env' | 'stderr'>;
  log: Logger;
  /** Keeps the current version of a node file before it is changed; returns where (a node path), or undefined when there was nothing. */
  backup(nodePath: string): Promise<string | undefined>;
  /** Targets changed earlier in this run (a restart is due when its config changed). */
  readonly changed: Set<string>;
}

/** What `apply` reports about one change it made. */
export interface ApplyOutcome {
  backup?: string | undefined;
  detail?: string | undefined;
  /** Set when apply decided to leave it (a warning, not a change): the reason. */
  skipped?: string | undefined;
  /** Replaces the record's members (extract-archive: what was written, with checksums). */
  members?: NodeAction['members'];
}

/**
 * One idempotent change to the node. `inspect` says how the node differs from
 * what the action wants (nothing: done); `apply` makes it so and is only
 * called when inspect found something. `check` is `inspect` reported, so what
 * apply does and what check verifies can never drift apart.
 */
export interface Action {
  readonly record: NodeAction;
  inspect(env: ActionEnv): Promise<string[]>;
  apply(env: ActionEnv): Promise<ApplyOutcome>;
}
