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

/** The length-delimited fields of a message, by number (repeated ones in order). */
export function decode(message: Buffer): Map<number, Buffer[]> {
  const fields = new Map<number, Buffer[]>();
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
    if (wire === 0) readVarint();
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const length = readVarint();
      const list = fields.get(tag >>> 3) ?? [];
      list.push(message.subarray(at, at + length));
      fields.set(tag >>> 3, list);
      at += length;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return fields;
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
