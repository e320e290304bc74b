/**
 * Model files on disk: `saveModel` / `loadModel` write and read the bytes of
 * `serializeModel` (src/nn/serialize.ts, which documents the format).
 *
 * Saving is atomic (docs/design.md, Errors): the bytes go to a temporary file in the target's own
 * directory, which is flushed to disk and then renamed over the target. A rename within one
 * file system replaces the target in one step, so `path` always holds either the previous
 * complete file or the new complete one — never a half-written one — and the temporary file
 * is removed if anything fails.
 *
 * Reading never trusts the path to be small: a model file is opened, checked to be a regular
 * file (not `/dev/zero`, a FIFO or a directory), and its preamble and JSON header are read and
 * checked first; only a file whose size (fstat) is exactly what the header describes is read
 * whole. Everything else is refused with a message naming the path.
 *
 * safetensors files (src/io/safetensors.ts, docs/interop.md) go through the same discipline:
 * `saveSafetensors` writes a model's PyTorch state dict atomically; `loadSafetensors` and
 * `readSafetensors` read the 8-byte length and the JSON header first and check all of it
 * against the file's size before they read the tensor data. `loadModel` recognises a
 * safetensors file (a '.safetensors' name, or a header where the gradscope magic is not), and
 * `saveModel` writes one for a '.safetensors' name.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { Module } from '../nn/module.js';
import { crc32, deserializeInto, MODEL_FILE_MAGIC, MODEL_FILE_VERSION, readModelBytes, serializeModel, type ModelFileContents } from '../nn/serialize.js';
import { ValueError } from '../tensor/errors.js';
import { writeFileAtomic } from './atomic.js';
import {
  checkSafetensorsHeader,
  decodeChecked,
  decodeSafetensors,
  encodeSafetensors,
  safetensorsHeaderLength,
  type EncodeSafetensorsOptions,
  type SafetensorsContents,
  type SafetensorsHeader,
  type TensorDict,
} from './safetensors.js';
import { loadStateDictInto, stateDict, type LoadStateDictOptions, type LoadStateDictResult } from './state-dict.js';

/**
 * Write the model's parameters and buffers to `path` atomically (parent folders are created).
 * @example saveModel(model, 'runs/lenet/epoch-3.gscp')
 */
export function saveModel(model: Module, path: string): void {
  if (isSafetensorsName(path)) {
    saveSafetensors(model, path);
    return;
  }
  writeFileAtomic(path, serializeModel(model), 'saveModel');
}

/**
 * Load a file written by `saveModel` into `model` (see `deserializeInto` for the checks), or a
 * safetensors file (a '.safetensors' name, or any file that does not start with the gradscope
 * magic but looks like safetensors): then as `loadSafetensors` with strict keys.
 * @example loadModel(lenet5({ seed: 0 }), 'lenet-trained-in-pytorch.safetensors')
 */
export function loadModel(model: Module, path: string): void {
  const what = `loadModel: '${path}'`;
  // One open: the first bytes tell the formats apart, and the chosen reader goes on from them.
  const file = withRegularFile('loadModel', path, (fd, size): { safetensors: SafetensorsFile } | { model: Uint8Array } => {
    const head = readAt(fd, 0, Math.min(size, PREAMBLE_BYTES));
    return isSafetensorsName(path) || looksLikeSafetensors(head, size)
      ? { safetensors: safetensorsFrom(fd, size, head, what) }
      : { model: modelFileBytesFrom(fd, size, head, 'loadModel', path) };
  });
  if ('safetensors' in file) {
    loadStateDictInto(model, decodeChecked(file.safetensors.bytes, file.safetensors.header, what).tensors, {}, what);
    return;
  }
  deserializeInto(model, file.model, what);
}

/**
 * Write a model's PyTorch state dict (src/io/state-dict.ts: PyTorch's names and order,
 * num_batches_tracked included) or any named tensors to `path` as a safetensors file,
 * atomically (parent folders are created). A model's file gets the metadata { format: 'pt' }
 * unless `options.metadata` says otherwise, so Hugging Face loaders read it as PyTorch weights.
 * @example saveSafetensors(model, 'runs/lenet/model.safetensors')
 */
export function saveSafetensors(source: Module | TensorDict, path: string, options: EncodeSafetensorsOptions = {}): void {
  const bytes =
    source instanceof Module
      ? encodeSafetensors(stateDict(source), { ...options, metadata: options.metadata === undefined ? { format: 'pt' } : options.metadata })
      : encodeSafetensors(source, options);
  writeFileAtomic(path, bytes, 'saveSafetensors');
}

/**
 * Load a safetensors file (a path, or its bytes) into `model` as torch's
 * `model.load_state_dict(safetensors.torch.load_file(path))` does: strict by default, shape
 * mismatches always refused, float32/float64 converted to the model's dtype (see
 * `loadStateDict`). The file's header is checked before its data is read.
 * @example loadSafetensors(mlp([6, 4, 2], { seed: 0 }), 'mlp.safetensors').missingKeys // []
 */
export function loadSafetensors(model: Module, source: string | Uint8Array, options: LoadStateDictOptions = {}): LoadStateDictResult {
  if (typeof source !== 'string') return loadStateDictInto(model, decodeSafetensors(source, { what: 'loadSafetensors' }).tensors, options, 'loadSafetensors');
  const what = `loadSafetensors: '${source}'`;
  const file = readSafetensorsFile('loadSafetensors', source);
  return loadStateDictInto(model, decodeChecked(file.bytes, file.header, what).tensors, options, what);
}

/** Decode a safetensors file without a model: its metadata, header and tensors (see decodeSafetensors). */
export function readSafetensors(path: string): SafetensorsContents {
  const file = readSafetensorsFile('readSafetensors', path);
  return decodeChecked(file.bytes, file.header, `readSafetensors: '${path}'`);
}

function isSafetensorsName(path: string): boolean {
  return typeof path === 'string' && path.toLowerCase().endsWith('.safetensors');
}

/**
 * Whether a file is safetensors rather than a gradscope model file, from its first bytes `head`
 * (at least 9 of them unless the file is shorter) and its size: no 'GSCP' magic, and '{' after
 * a plausible length.
 */
function looksLikeSafetensors(head: Uint8Array, size: number): boolean {
  if (head.length < 9 || String.fromCharCode(...head.subarray(0, 4)) === MODEL_FILE_MAGIC) return false;
  const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  return n <= BigInt(size - 8) && head[8] === 0x7b;
}

/** A safetensors file's bytes with its checked header. */
interface SafetensorsFile {
  bytes: Uint8Array;
  header: SafetensorsHeader;
}

/** A safetensors file's bytes and checked header (see safetensorsFrom); errors name `op` and the path. */
function readSafetensorsFile(op: string, path: string): SafetensorsFile {
  return withRegularFile(op, path, (fd, size) => safetensorsFrom(fd, size, readAt(fd, 0, Math.min(size, 8)), `${op}: '${path}'`));
}

/**
 * A safetensors file's bytes, header first: the 8-byte length and the JSON header are read and
 * checked against the file's size (safetensors.ts lists the rules) before the tensor data is
 * read, so a corrupt or hostile header costs at most its own (capped) size. The checked header
 * is returned with the bytes, so decoding does not parse it again. `head` is the file's first
 * bytes (at least 8 unless the file is shorter); a shorter `head` is refused as truncated.
 */
function safetensorsFrom(fd: number, size: number, head: Uint8Array, what: string): SafetensorsFile {
  if (head.length < 8) safetensorsHeaderLength(head, head.length, what); // throws: truncated
  const headerByteLength = safetensorsHeaderLength(head, size, what);
  const headerBytes = readAt(fd, 8, headerByteLength);
  if (headerBytes.length !== headerByteLength) throw new ValueError(`${what}: the file shrank while it was read`);
  const header = checkSafetensorsHeader(headerBytes, size - 8 - headerByteLength, what);
  const bytes = readAt(fd, 0, size);
  if (bytes.length !== size) throw new ValueError(`${what}: the file shrank while it was read`);
  return { bytes, header };
}

/** Decode a model file without a model: its header (names, shapes, dtypes) and values. */
export function readModelFile(path: string): ModelFileContents {
  return readModelBytes(readModelFileBytes('readModelFile', path), `readModelFile: '${path}'`);
}

/** The preamble of a model file (nn/serialize.ts): magic, version, header length, header CRC. */
const PREAMBLE_BYTES = 16;
const ALIGN = 8;

/**
 * The whole of a regular file, read to the size fstat gives (so a file that grows while it is
 * read cannot make the read run on). Devices, FIFOs and directories are refused: reading
 * `/dev/zero` would never end. Errors name `op` and the path.
 */
export function readBytes(op: string, path: string): Uint8Array {
  return withRegularFile(op, path, (fd, size) => readAt(fd, 0, size));
}

/**
 * A model file's bytes, header first: the preamble and the JSON header are read and checked
 * before the payload, and a file whose size disagrees with its header is refused without
 * reading the rest. When the preamble or header itself is bad, only those bytes are returned,
 * so that `readModelBytes` names exactly what is wrong with them.
 */
export function readModelFileBytes(op: string, path: string): Uint8Array {
  return withRegularFile(op, path, (fd, size) => modelFileBytesFrom(fd, size, readAt(fd, 0, Math.min(size, PREAMBLE_BYTES)), op, path));
}

/** readModelFileBytes on an open file whose first min(size, PREAMBLE_BYTES) bytes are `preamble`. */
function modelFileBytesFrom(fd: number, size: number, preamble: Uint8Array, op: string, path: string): Uint8Array {
  const view = new DataView(preamble.buffer, preamble.byteOffset, preamble.byteLength);
  const magic = String.fromCharCode(...preamble.subarray(0, 4));
  if (size < PREAMBLE_BYTES || magic !== MODEL_FILE_MAGIC || view.getUint32(4, true) !== MODEL_FILE_VERSION) return preamble;
  const headerLength = view.getUint32(8, true);
  if (PREAMBLE_BYTES + headerLength > size) {
    throw new ValueError(`${op}: '${path}': truncated: the header needs ${PREAMBLE_BYTES + headerLength} bytes; the file has ${size}`);
  }
  const header = readAt(fd, PREAMBLE_BYTES, headerLength);
  const prefix = (): Uint8Array => {
    const out = new Uint8Array(PREAMBLE_BYTES + headerLength);
    out.set(preamble, 0);
    out.set(header, PREAMBLE_BYTES);
    return out;
  };
  if (crc32(header) !== view.getUint32(12, true)) return prefix();
  let payloadByteLength: unknown;
  try {
    payloadByteLength = (JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(header)) as { payloadByteLength?: unknown })?.payloadByteLength;
  } catch {
    return prefix();
  }
  if (typeof payloadByteLength !== 'number' || !Number.isSafeInteger(payloadByteLength) || payloadByteLength < 0) return prefix();
  const expected = Math.ceil((PREAMBLE_BYTES + headerLength) / ALIGN) * ALIGN + payloadByteLength;
  if (size < expected) throw new ValueError(`${op}: '${path}': truncated: the header describes ${expected} bytes; the file has ${size}`);
  if (size > expected) {
    throw new ValueError(`${op}: '${path}': ${size - expected} unexpected bytes after the payload (the header describes ${expected} bytes in all)`);
  }
  return readAt(fd, 0, size);
}

/** Open `path` without blocking (a FIFO would wait for a writer), check it is a regular file, run `read`. */
function withRegularFile<T>(op: string, path: string, read: (fd: number, size: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new ValueError(`${op}: cannot read '${path}': ${reasonOf(e)}`, { cause: e });
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new ValueError(`${op}: cannot read '${path}': it is a directory`);
    if (!stat.isFile()) throw new ValueError(`${op}: cannot read '${path}': not a regular file (a device, FIFO or socket)`);
    try {
      return read(fd, stat.size);
    } catch (e) {
      if (e instanceof ValueError) throw e;
      throw new ValueError(`${op}: cannot read '${path}': ${reasonOf(e)}`, { cause: e });
    }
  } finally {
    closeSync(fd);
  }
}

function reasonOf(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
}

/** `length` bytes at `position`; a file that shrank under us gives fewer (its checks then fail). */
export function readAt(fd: number, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, out, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? out : out.subarray(0, got);
}
