/**
 * The JSON field names of the kubeadm configuration types ag-kubeadm writes,
 * per API version, transcribed from kubernetes/kubernetes
 * cmd/kubeadm/app/apis/kubeadm/v1beta3/types.go and v1beta4/types.go (and
 * the kubernetes.io "kubeadm Configuration (v1beta3|v1beta4)" pages). Tests
 * walk a generated configuration and refuse any field its version lacks, and
 * any map/list shape the version does not use.
 *
 * A field's value is the type it holds: another type's name, 'args' (extra
 * arguments: a map in v1beta3, a list of {name, value} in v1beta4), or a
 * scalar/opaque marker.
 */
export type FieldType = string;

const common = {
  APIEndpoint: { advertiseAddress: 'string', bindPort: 'int' },
  Networking: { serviceSubnet: 'string', podSubnet: 'string', dnsDomain: 'string' },
  Etcd: { local: 'LocalEtcd', external: 'opaque' },
  BootstrapTokenDiscovery: { token: 'string', apiServerEndpoint: 'string', caCertHashes: 'string[]', unsafeSkipCAVerification: 'bool' },
  JoinControlPlane: { localAPIEndpoint: 'APIEndpoint', certificateKey: 'string' },
};

export const KUBEADM_TYPES: Record<'kubeadm.k8s.io/v1beta3' | 'kubeadm.k8s.io/v1beta4', Record<string, Record<string, FieldType>>> = {
  'kubeadm.k8s.io/v1beta3': {
    ...common,
    InitConfiguration: {
      apiVersion: 'string', kind: 'string', bootstrapTokens: 'opaque', nodeRegistration: 'NodeRegistrationOptions',
      localAPIEndpoint: 'APIEndpoint', certificateKey: 'string', skipPhases: 'string[]', patches: 'opaque',
    },
    ClusterConfiguration: {
      apiVersion: 'string', kind: 'string', etcd: 'Etcd', networking: 'Networking', kubernetesVersion: 'string',
      controlPlaneEndpoint: 'string', apiServer: 'APIServer', controllerManager: 'ControlPlaneComponent',
      scheduler: 'ControlPlaneComponent', dns: 'DNS', certificatesDir: 'string', imageRepository: 'string',
      featureGates: 'opaque', clusterName: 'string',
    },
    ControlPlaneComponent: { extraArgs: 'args', extraVolumes: 'opaque' },
    APIServer: { extraArgs: 'args', extraVolumes: 'opaque', certSANs: 'string[]', timeoutForControlPlane: 'duration' },
    DNS: { imageRepository: 'string', imageTag: 'string' },
    LocalEtcd: { imageRepository: 'string', imageTag: 'string', dataDir: 'string', extraArgs: 'args', serverCertSANs: 'string[]', peerCertSANs: 'string[]' },
    NodeRegistrationOptions: {
      name: 'string', criSocket: 'string', taints: 'opaque', kubeletExtraArgs: 'args', ignorePreflightErrors: 'string[]', imagePullPolicy: 'string',
    },
    JoinConfiguration: {
      apiVersion: 'string', kind: 'string', nodeRegistration: 'NodeRegistrationOptions', caCertPath: 'string', discovery: 'Discovery',
      controlPlane: 'JoinControlPlane', skipPhases: 'string[]', patches: 'opaque',
    },
    Discovery: { bootstrapToken: 'BootstrapTokenDiscovery', file: 'opaque', tlsBootstrapToken: 'string', timeout: 'duration' },
  },
  'kubeadm.k8s.io/v1beta4': {
    ...common,
    InitConfiguration: {
      apiVersion: 'string', kind: 'string', bootstrapTokens: 'opaque', dryRun: 'bool', nodeRegistration: 'NodeRegistrationOptions',
      localAPIEndpoint: 'APIEndpoint', certificateKey: 'string', skipPhases: 'string[]', patches: 'opaque', timeouts: 'Timeouts',
    },
    ClusterConfiguration: {
      apiVersion: 'string', kind: 'string', etcd: 'Etcd', networking: 'Networking', kubernetesVersion: 'string',
      controlPlaneEndpoint: 'string', apiServer: 'APIServer', controllerManager: 'ControlPlaneComponent',
      scheduler: 'ControlPlaneComponent', dns: 'DNS', proxy: 'opaque', certificatesDir: 'string', imageRepository: 'string',
      featureGates: 'opaque', clusterName: 'string', encryptionAlgorithm: 'string', certificateValidityPeriod: 'duration',
      caCertificateValidityPeriod: 'duration',
    },
    ControlPlaneComponent: { extraArgs: 'args', extraVolumes: 'opaque', extraEnvs: 'opaque' },
    APIServer: { extraArgs: 'args', extraVolumes: 'opaque', extraEnvs: 'opaque', certSANs: 'string[]' },
    DNS: { imageRepository: 'string', imageTag: 'string', disabled: 'bool' },
    LocalEtcd: {
      imageRepository: 'string', imageTag: 'string', dataDir: 'string', extraArgs: 'args', extraEnvs: 'opaque', serverCertSANs: 'string[]', peerCertSANs: 'string[]',
    },
    NodeRegistrationOptions: {
      name: 'string', criSocket: 'string', taints: 'opaque', kubeletExtraArgs: 'args', ignorePreflightErrors: 'string[]', imagePullPolicy: 'string', imagePullSerial: 'bool',
    },
    JoinConfiguration: {
      apiVersion: 'string', kind: 'string', dryRun: 'bool', nodeRegistration: 'NodeRegistrationOptions', caCertPath: 'string', discovery: 'Discovery',
      controlPlane: 'JoinControlPlane', skipPhases: 'string[]', patches: 'opaque', timeouts: 'Timeouts',
    },
    Discovery: { bootstrapToken: 'BootstrapTokenDiscovery', file: 'opaque', tlsBootstrapToken: 'string' },
    Timeouts: {
      controlPlaneComponentHealthCheck: 'duration', kubeletHealthCheck: 'duration', kubernetesAPICall: 'duration', etcdAPICall: 'duration',
      tlsBootstrap: 'duration', discovery: 'duration', upgradeManifests: 'duration',
    },
  },
};

/** Every problem found walking `value` as type `typeName` of `apiVersion` (empty when it conforms). */
export function checkAgainstTypes(apiVersion: keyof typeof KUBEADM_TYPES, typeName: string, value: unknown, path = typeName): string[] {
  const types = KUBEADM_TYPES[apiVersion];
  const fields = types[typeName];
  if (fields === undefined) return [`${path}: unknown type ${typeName}`];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: expected an object`];
  const problems: string[] = [];
  for (const [key, fieldValue] of Object.entries(value)) {
    const type = fields[key];
    const at = `${path}.${key}`;
    if (type === undefined) problems.push(`${at}: ${apiVersion} ${typeName} has no field ${key}`);
    else if (type === 'args') {
      const isList = Array.isArray(fieldValue);
      if (apiVersion === 'kubeadm.k8s.io/v1beta4') {
        if (!isList || !(fieldValue as unknown[]).every((a) => typeof a === 'object' && a !== null && Object.keys(a).sort().join() === 'name,value')) {
          problems.push(`${at}: v1beta4 extra arguments are a list of {name, value}`);
        }
      } else if (isList || typeof fieldValue !== 'object' || !Object.values(fieldValue as object).every((v) => typeof v === 'string')) {
        problems.push(`${at}: v1beta3 extra arguments are a map of strings`);
      }
    } else if (type === 'duration') {
      if (typeof fieldValue !== 'string' || !/^(\d+h)?(\d+m)?\d+s$/.test(fieldValue)) problems.push(`${at}: not a Go duration`);
    } else if (type === 'string' || type === 'int' || type === 'bool' || type === 'string[]' || type === 'opaque') {
      const ok =
        type === 'opaque' ||
        (type === 'string' && typeof fieldValue === 'string') ||
        (type === 'int' && Number.isInteger(fieldValue)) ||
        (type === 'bool' && typeof fieldValue === 'boolean') ||
        (type === 'string[]' && Array.isArray(fieldValue) && fieldValue.every((s) => typeof s === 'string'));
      if (!ok) problems.push(`${at}: expected ${type}`);
    } else problems.push(...checkAgainstTypes(apiVersion, type, fieldValue, at));
  }
  return problems;
}
