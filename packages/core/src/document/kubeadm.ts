import { Type, type Static } from '@sinclair/typebox';

/** The `kubeadm` section: owned by ag-kubeadm. Tokens live in 0600 files, never here. */
export const KubeadmSection = Type.Object({
  configFile: Type.String(),
  apiVersion: Type.String({ description: 'kubeadm.k8s.io/v1beta3 or v1beta4' }),
  config: Type.String({ description: 'the configuration as written' }),
  imageRepository: Type.String(),
  adminKubeconfig: Type.Optional(Type.String()),
  join: Type.Optional(
    Type.Object({
      apiServerEndpoint: Type.String(),
      tokenFile: Type.String(),
      caCertHashes: Type.Array(Type.String()),
      certificateKeyFile: Type.Optional(Type.String()),
    }),
  ),
});
export type KubeadmSection = Static<typeof KubeadmSection>;
