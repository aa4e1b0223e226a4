import { Type, type Static } from '@sinclair/typebox';

/** One thing ag-nodeprep did, or would do. */
export const NodeAction = Type.Object({
  step: Type.String({ description: 'the named, skippable step, e.g. sysctl, swap, containerd' }),
  action: Type.String({ description: 'write-file, run, enable-service, …' }),
  target: Type.Optional(Type.String({ description: 'the file or command' })),
  why: Type.String(),
  changed: Type.Optional(Type.Boolean()),
  backup: Type.Optional(Type.String()),
});

/** The `nodeprep` section: owned by ag-nodeprep. */
export const NodeprepSection = Type.Object({
  root: Type.String(),
  os: Type.Object({ id: Type.String(), version: Type.String(), family: Type.String() }),
  skipped: Type.Array(Type.String()),
  actions: Type.Array(NodeAction),
  changes: Type.Integer({ minimum: 0 }),
  appliedAt: Type.Optional(Type.String()),
});
export type NodeprepSection = Static<typeof NodeprepSection>;
