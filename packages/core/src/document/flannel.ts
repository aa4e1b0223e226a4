import { Type, type Static } from '@sinclair/typebox';

/** The `flannel` section: owned by ag-flannel. */
export const FlannelSection = Type.Object({
  manifest: Type.String({ description: 'the rendered manifest, relative to the bundle root or absolute' }),
  podSubnet: Type.String(),
  backend: Type.String(),
  images: Type.Array(Type.String({ description: 'digest-pinned references the manifest uses' })),
  nodes: Type.Optional(Type.Array(Type.Object({ name: Type.String(), ready: Type.Boolean() }))),
});
export type FlannelSection = Static<typeof FlannelSection>;
