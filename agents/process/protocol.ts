/**
 * The agent process protocol, version 1 (docs/agent-protocol.md): how the harness and an agent in
 * another process (`--agent ./my_agent.py`, `--agent "exec:CMD ARGS"`) talk over the agent's stdin
 * and stdout, and how `prorec-gym serve` serves an environment the same way.
 *
 * Every message is one frame:
 *
 *   magic     4 bytes  "PRG1"
 *   hlen      u32 LE   length of the header in bytes
 *   plen      u32 LE   length of the payload in bytes
 *   header    hlen bytes of UTF-8 JSON: an object with `type` (the message) and its fields; binary
 *             arrays are described in `arrays`: [{ name, dtype, shape, offset }], offset in bytes
 *             from the start of the payload, a multiple of 8
 *   payload   plen bytes: the arrays, little-endian, each starting at its offset
 *
 * This file holds the frame codec and the array helpers; the messages' schemas live with the code
 * that reads them (agent.ts, env-server.ts).
 */
import { ContractError, ProrecError } from '../../core/errors.ts';

export const PROTOCOL_VERSION = 1;
export const MAGIC = Buffer.from('PRG1', 'latin1');
/** Bytes before the header: magic, hlen, plen. */
export const PREFIX_BYTES = 12;
/** The largest header and payload accepted (a guard against a garbage length, not a limit real batches reach). */
export const MAX_HEADER_BYTES = 64 * 1024 * 1024;
export const MAX_PAYLOAD_BYTES = 2 * 1024 * 1024 * 1024 - 1;

export type DType = 'int32' | 'uint32' | 'uint8' | 'float32' | 'float64';
export const DTYPES: readonly DType[] = ['int32', 'uint32', 'uint8', 'float32', 'float64'];
export type TypedArray = Int32Array | Uint32Array | Uint8Array | Float32Array | Float64Array;

const CTOR = { int32: Int32Array, uint32: Uint32Array, uint8: Uint8Array, float32: Float32Array, float64: Float64Array } as const;

export function dtypeOf(a: TypedArray): DType {
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Float32Array) return 'float32';
  return 'float64';
}

/** An array of a frame: its values and shape (row-major). */
export interface WireArray {
  readonly data: TypedArray;
  readonly shape: readonly number[];
}

/** A decoded frame: the header (JSON) and its arrays by name. */
export interface Message {
  readonly header: Record<string, unknown> & { type: string };
  readonly arrays: ReadonlyMap<string, WireArray>;
}

/** The other side broke the protocol: the message and the field are named. */
export class ProtocolError extends ProrecError {
  readonly kind = 'failure';
}

/** A 1-D array. */
export function vec(data: TypedArray): WireArray {
  return { data, shape: [data.length] };
}

/** One frame: header (with the arrays' descriptions added) and payload. */
export function encodeFrame(header: Record<string, unknown> & { type: string }, arrays: Record<string, WireArray> = {}): Uint8Array {
  const descs: { name: string; dtype: DType; shape: readonly number[]; offset: number }[] = [];
  let size = 0;
  for (const [name, a] of Object.entries(arrays)) {
    const expected = a.shape.reduce((x, y) => x * y, 1);
    if (expected !== a.data.length) throw new ContractError(`${header.type}: array '${name}' has ${a.data.length} values for shape [${a.shape.join(', ')}]`);
    descs.push({ name, dtype: dtypeOf(a.data), shape: a.shape, offset: size });
    size += Math.ceil(a.data.byteLength / 8) * 8;
  }
  const json = Buffer.from(JSON.stringify(descs.length ? { ...header, arrays: descs } : header), 'utf8');
  const frame = new Uint8Array(PREFIX_BYTES + json.length + size);
  frame.set(MAGIC, 0);
  const view = new DataView(frame.buffer);
  view.setUint32(4, json.length, true);
  view.setUint32(8, size, true);
  frame.set(json, PREFIX_BYTES);
  const base = PREFIX_BYTES + json.length;
  descs.forEach((d, i) => {
    const a = Object.values(arrays)[i].data;
    frame.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), base + d.offset);
  });
  return frame;
}

/**
 * The frame's parts once `buffer` starts with a complete one: the header bytes and the payload, and
 * the frame's length; null while incomplete. Throws a ProtocolError when the bytes are not a frame
 * (`source` names the sender).
 */
export function splitFrame(buffer: Uint8Array, source: string): { header: Uint8Array; payload: Uint8Array; length: number } | null {
  const n = Math.min(buffer.length, 4);
  for (let i = 0; i < n; i++)
    if (buffer[i] !== MAGIC[i])
      throw new ProtocolError(
        `${source} wrote bytes that are not a protocol frame (expected "PRG1", got ${JSON.stringify(Buffer.from(buffer.subarray(0, 80)).toString('latin1'))}); ` +
          `stdout belongs to the protocol: print to stderr`,
      );
  if (buffer.length < PREFIX_BYTES) return null;
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const hlen = view.getUint32(4, true);
  const plen = view.getUint32(8, true);
  if (hlen > MAX_HEADER_BYTES) throw new ProtocolError(`${source}: a frame header of ${hlen} bytes (more than ${MAX_HEADER_BYTES})`);
  if (plen > MAX_PAYLOAD_BYTES) throw new ProtocolError(`${source}: a frame payload of ${plen} bytes (more than ${MAX_PAYLOAD_BYTES})`);
  const length = PREFIX_BYTES + hlen + plen;
  if (buffer.length < length) return null;
  return { header: buffer.subarray(PREFIX_BYTES, PREFIX_BYTES + hlen), payload: buffer.subarray(PREFIX_BYTES + hlen, length), length };
}

/** Parses a frame's header and arrays; every problem is a ProtocolError naming the message and field. */
export function decodeFrame(headerBytes: Uint8Array, payload: Uint8Array, source: string): Message {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(headerBytes.buffer, headerBytes.byteOffset, headerBytes.byteLength).toString('utf8'));
  } catch (e) {
    throw new ProtocolError(`${source}: a frame header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new ProtocolError(`${source}: a frame header is not a JSON object`);
  const h = header as Record<string, unknown>;
  if (typeof h.type !== 'string') throw new ProtocolError(`${source}: a message without a string field 'type' (header ${JSON.stringify(h).slice(0, 200)})`);
  const what = `${source}: message '${h.type}'`;
  const arrays = new Map<string, WireArray>();
  if (h.arrays !== undefined) {
    if (!Array.isArray(h.arrays)) throw new ProtocolError(`${what}: field 'arrays' is not a list`);
    h.arrays.forEach((d: unknown, i: number) => {
      const a = d as { name?: unknown; dtype?: unknown; shape?: unknown; offset?: unknown };
      const at = `${what}: arrays.${i}`;
      if (typeof a?.name !== 'string') throw new ProtocolError(`${at}.name: not a string`);
      if (!DTYPES.includes(a.dtype as DType)) throw new ProtocolError(`${at}.dtype (${a.name}): ${JSON.stringify(a.dtype)} is not one of ${DTYPES.join(', ')}`);
      if (!Array.isArray(a.shape) || !a.shape.every((x) => Number.isInteger(x) && x >= 0))
        throw new ProtocolError(`${at}.shape (${a.name}): not a list of non-negative integers`);
      if (!Number.isInteger(a.offset) || (a.offset as number) < 0) throw new ProtocolError(`${at}.offset (${a.name}): not a non-negative integer`);
      const C = CTOR[a.dtype as DType];
      const count = (a.shape as number[]).reduce((x, y) => x * y, 1);
      const start = a.offset as number;
      const bytes = count * C.BYTES_PER_ELEMENT;
      if (start + bytes > payload.length)
        throw new ProtocolError(`${at} (${a.name}): ${bytes} bytes at offset ${start} run past the payload's ${payload.length} bytes`);
      // A copy: aligned, and independent of the read buffer.
      const data = new C(count);
      new Uint8Array(data.buffer).set(payload.subarray(start, start + bytes));
      arrays.set(a.name, { data, shape: a.shape as number[] });
    });
  }
  return { header: h as Message['header'], arrays };
}

/**
 * Array `name` of message `m`, checked: present, of dtype `dtype`, with `length` values (when
 * given). A ProtocolError names the message and the field otherwise.
 */
export function arrayOf<D extends DType>(m: Message, name: string, dtype: D, length: number | null, source: string): InstanceType<(typeof CTOR)[D]> {
  const a = m.arrays.get(name);
  const what = `${source}: message '${m.header.type}', array '${name}'`;
  if (!a) throw new ProtocolError(`${what}: missing`);
  if (dtypeOf(a.data) !== dtype) throw new ProtocolError(`${what}: dtype ${dtypeOf(a.data)}, expected ${dtype}`);
  if (length !== null && a.data.length !== length) throw new ProtocolError(`${what}: ${a.data.length} values, expected ${length}`);
  return a.data as InstanceType<(typeof CTOR)[D]>;
}

/** Rows of variable length as (values, offsets): offsets has rows + 1 entries. */
export function ragged(rows: readonly ArrayLike<number>[], C: typeof Int32Array | typeof Uint8Array = Int32Array): { values: TypedArray; offsets: Int32Array } {
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => (offsets[i + 1] = offsets[i] + r.length));
  const values = new C(offsets[rows.length]);
  rows.forEach((r, i) => values.set(r, offsets[i]));
  return { values, offsets };
}
