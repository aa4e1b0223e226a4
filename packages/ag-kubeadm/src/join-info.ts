import { rm } from 'node:fs/promises';
import { ExternalError, withContext, writeFileAtomic, type KubeadmJoinInfo, type KubeadmSection } from '@ag/core';
import type { Runner } from './context.js';
import { caCertHashesOfFile } from './discovery-hash.js';
import { PATHS } from './host.js';

const TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
const CERTIFICATE_KEY = /^[a-f0-9]{64}$/;

/** host:port other nodes join through: the control-plane endpoint (with the bind port when it has none), else this node. */
export function apiServerEndpoint(section: Pick<KubeadmSection, 'controlPlaneEndpoint' | 'node'>): string {
  const { controlPlaneEndpoint, node } = section;
  // config accepts only host[:port] and [ipv6][:port], so a trailing :digits is always a port.
  if (controlPlaneEndpoint !== undefined) return /:\d+$/.test(controlPlaneEndpoint) ? controlPlaneEndpoint : `${controlPlaneEndpoint}:${node.bindPort}`;
  const host = node.advertiseAddress.includes(':') ? `[${node.advertiseAddress}]` : node.advertiseAddress;
  return `${host}:${node.bindPort}`;
}

export interface JoinInfoOptions {
  tokenTtl: string;
}

/**
 * Fresh join information from a running control plane: a new bootstrap
 * token (`kubeadm token create`) in a 0600 file, the CA's discovery hash
 * computed from /etc/kubernetes/pki/ca.crt, and, with a control-plane
 * endpoint, a new certificate key (`kubeadm init phase upload-certs
 * --upload-certs`, which re-uploads the control-plane certificates
 * encrypted with it for two hours) in another 0600 file.
 */
export async function createJoinInfo(runner: Runner, section: KubeadmSection, options: JoinInfoOptions): Promise<KubeadmJoinInfo> {
  const admin = runner.path(PATHS.adminKubeconfig);
  const caCertHashes = await caCertHashesOfFile(runner.path(PATHS.caCert));
  const token = (await runner.run('kubeadm', ['token', 'create', '--kubeconfig', admin, '--ttl', options.tokenTtl], { streamStderr: true })).stdout.trim();
  if (!TOKEN.test(token)) throw new ExternalError(`kubeadm token create printed ${JSON.stringify(token.slice(0, 40))}, not a bootstrap token`);
  const info: KubeadmJoinInfo = {
    apiServerEndpoint: apiServerEndpoint(section),
    tokenFile: PATHS.tokenFile,
    tokenTtl: options.tokenTtl,
    caCertHashes,
    createdAt: new Date().toISOString(),
  };
  await writeSecret(runner.path(PATHS.tokenFile), `${token}\n`);
  if (section.controlPlaneEndpoint !== undefined) {
    const upload = await runner.run(
      'kubeadm',
      ['init', 'phase', 'upload-certs', '--upload-certs', '--config', runner.path(section.configFile), '--kubeconfig', admin],
      { streamStderr: true },
    );
    const key = upload.stdout.split('\n').map((l) => l.trim()).reverse().find((l) => CERTIFICATE_KEY.test(l));
    if (key === undefined) throw new ExternalError('kubeadm init phase upload-certs printed no certificate key');
    await writeSecret(runner.path(PATHS.certificateKeyFile), `${key}\n`);
    info.certificateKeyFile = PATHS.certificateKeyFile;
  } else {
    await rm(runner.path(PATHS.certificateKeyFile), { force: true });
  }
  return info;
}

async function writeSecret(path: string, text: string): Promise<void> {
  try {
    await writeFileAtomic(path, text, { mode: 0o600 });
  } catch (error) {
    throw withContext(`writing ${path}`, error);
  }
}
