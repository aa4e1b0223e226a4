import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';

/**
 * Just enough of the CRI (gRPC over HTTP/2 on containerd's socket) to ask
 * containerd's CRI plugin what the kubelet would ask: pull an image and show
 * its effective config. Hand-encoded protobuf (k8s.io/cri-api runtime/v1
 * api.proto field numbers): no crictl on the build machines. Test support only.
 */

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** A length-delimited field (strings, embedded messages). */
export function field(number: number, value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
}

/** Every field of a message in order: varints as numbers, length-delimited ones as bytes (fixed-width ones skipped). */
function fields(message: Buffer): Array<{ number: number; value: number | Buffer }> {
  const found: Array<{ number: number; value: number | Buffer }> = [];
  let at = 0;
  const readVarint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = message[at++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
  };
  while (at < message.length) {
    const tag = readVarint();
    const wire = tag & 7;
    if (wire === 0) found.push({ number: tag >>> 3, value: readVarint() });
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const length = readVarint();
      found.push({ number: tag >>> 3, value: message.subarray(at, at + length) });
      at += length;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return found;
}

/** The length-delimited fields of a message, by number (repeated ones in order). */
export function decode(message: Buffer): Map<number, Buffer[]> {
  const byNumber = new Map<number, Buffer[]>();
  for (const { number, value } of fields(message)) {
    if (typeof value === 'number') continue;
    byNumber.set(number, [...(byNumber.get(number) ?? []), value]);
  }
  return byNumber;
}

/** A varint field of a message (an enum, a bool): protobuf leaves out a zero, so absent is 0. */
function varintOf(message: Buffer, number: number): number {
  const found = fields(message).find((f) => f.number === number && typeof f.value === 'number');
  return (found?.value as number | undefined) ?? 0;
}

/** One unary gRPC call on a unix socket; resolves with the response message or rejects with grpc-status/message. */
export function grpcCall(socket: string, path: string, request: Buffer, timeoutMs = 60_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const client = http2Connect('http://localhost', { createConnection: () => netConnect(socket) });
    client.on('error', reject);
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(request.length, 1);
    const stream = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    stream.setTimeout(timeoutMs, () => stream.close());
    const chunks: Buffer[] = [];
    let status = '';
    let message = '';
    const note = (headers: Record<string, unknown>): void => {
      if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
      if (headers['grpc-message'] !== undefined) message = decodeURIComponent(String(headers['grpc-message']));
    };
    stream.on('response', note);
    stream.on('trailers', note);
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', reject);
    stream.on('close', () => {
      client.close();
      if (status !== '0') {
        reject(new Error(`${path}: grpc-status ${status || 'none'}: ${message}`));
        return;
      }
      const body = Buffer.concat(chunks);
      resolve(body.length >= 5 ? body.subarray(5, 5 + body.readUInt32BE(1)) : Buffer.alloc(0));
    });
    stream.end(Buffer.concat([frame, request]));
  });
}

/** runtime.v1.ImageService/PullImage: returns the image ref (digest) the CRI reports. */
export async function criPullImage(socket: string, image: string): Promise<string> {
  const response = await grpcCall(socket, '/runtime.v1.ImageService/PullImage', field(1, field(1, image)));
  return decode(response).get(1)?.[0]?.toString() ?? '';
}

/** runtime.v1.RuntimeService/Status with verbose = true: the info map (its "config" is the CRI plugin's effective config as JSON). */
export async function criStatusInfo(socket: string): Promise<Record<string, string>> {
  const response = await grpcCall(socket, '/runtime.v1.RuntimeService/Status', Buffer.from([0x08, 0x01]));
  const info: Record<string, string> = {};
  for (const entry of decode(response).get(2) ?? []) {
    const pair = decode(entry);
    info[pair.get(1)?.[0]?.toString() ?? ''] = pair.get(2)?.[0]?.toString() ?? '';
  }
  return info;
}

/** A varint field (uint32, enums, bools). */
function varintField(number: number, value: number): Buffer {
  return Buffer.concat([varint(number << 3), varint(value)]);
}

export interface PodSandboxSpec {
  name: string;
  namespace: string;
  uid: string;
}

/**
 * runtime.v1.RuntimeService/RunPodSandbox, as the kubelet starts a pod: the
 * CRI plugin runs its sandbox image and sets up the pod's network through
 * its CNI config. Returns the sandbox id. PodSandboxConfig: metadata (1:
 * name, uid, namespace, attempt), hostname (2), linux (8, empty: the
 * runtime's defaults).
 */
export async function criRunPodSandbox(socket: string, pod: PodSandboxSpec): Promise<string> {
  const metadata = Buffer.concat([field(1, pod.name), field(2, pod.uid), field(3, pod.namespace), varintField(4, 0)]);
  const config = Buffer.concat([field(1, metadata), field(2, pod.name), field(8, Buffer.alloc(0))]);
  const response = await grpcCall(socket, '/runtime.v1.RuntimeService/RunPodSandbox', field(1, config), 120_000);
  return decode(response).get(1)?.[0]?.toString() ?? '';
}

/** runtime.v1.RuntimeService/PodSandboxStatus: the sandbox's state (0 ready, 1 not ready) and its pod IP. */
export async function criPodSandboxStatus(socket: string, id: string): Promise<{ ready: boolean; ip: string }> {
  const response = await grpcCall(socket, '/runtime.v1.RuntimeService/PodSandboxStatus', field(1, id));
  const status = decode(response).get(1)?.[0] ?? Buffer.alloc(0);
  const network = decode(decode(status).get(5)?.[0] ?? Buffer.alloc(0));
  // PodSandboxStatus.state (3): SANDBOX_READY = 0, SANDBOX_NOTREADY = 1.
  return { ready: varintOf(status, 3) === 0, ip: network.get(1)?.[0]?.toString() ?? '' };
}

/** StopPodSandbox then RemovePodSandbox: the kubelet's teardown (the network is released, the netns removed). */
export async function criRemovePodSandbox(socket: string, id: string): Promise<void> {
  await grpcCall(socket, '/runtime.v1.RuntimeService/StopPodSandbox', field(1, id));
  await grpcCall(socket, '/runtime.v1.RuntimeService/RemovePodSandbox', field(1, id));
}
