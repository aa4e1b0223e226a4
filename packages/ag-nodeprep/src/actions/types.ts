import type { AgError, Io, Logger, NodeAction } from '@ag/core';

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
  /**
   * Targets changed earlier in this run (a restart is due when its config
   * changed). In a preview (plan, and apply's look before its first write)
   * the targets earlier actions would change.
   */
  readonly changed: Set<string>;
  /** True while nothing may change and nothing may wait: plan, and apply before its first write. */
  readonly preview?: boolean;
}

/** What the actions before this one in the same run will put on the node. */
export interface Upcoming {
  /** Node paths an earlier action writes, links or installs. */
  readonly paths: ReadonlySet<string>;
  /** Whether an earlier action installs an OS package by this name. */
  installsPackage(name: string): boolean;
  /** Whether the OS packages an earlier action installs put this node path on the node. */
  packagesProvide(path: string): Promise<boolean>;
}

/** The env an action's `blockers` sees: the node as it is, and what will change before the action runs. */
export interface PreviewEnv extends ActionEnv {
  readonly upcoming: Upcoming;
}

/** What an action would do to the node, for plan and for apply's log. */
export interface PlannedChange {
  /** A change, not a fault: "create /etc/x", "change /etc/y", "disable firewalld.service", "run modprobe overlay". */
  summary: string;
  /** write-file: the unified diff from what the node has to what apply writes. */
  diff?: string;
  /** Set when apply will change nothing here but warn (something another tool provides later): the warning. */
  warning?: string;
}

/** What an action will provide to the actions after it (for their blockers). */
export interface Provision {
  paths?: readonly string[];
  packages?: { names: readonly string[]; provide(path: string): Promise<boolean> };
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
 *
 * Before apply writes anything, every action that inspect found due is asked
 * for its `change` (what plan shows) and its `blockers`: what would make its
 * `apply` fail, judged from the node as it is and what the actions before it
 * will provide (`upcoming`). Any blocker stops the run before its first write.
 */
export interface Action {
  readonly record: NodeAction;
  inspect(env: ActionEnv): Promise<string[]>;
  change(env: ActionEnv): Promise<PlannedChange>;
  blockers?(env: PreviewEnv): Promise<AgError[]>;
  provides?(env: ActionEnv): Promise<Provision>;
  apply(env: ActionEnv): Promise<ApplyOutcome>;
}
