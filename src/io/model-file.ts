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
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { Module } from '../nn/module.js';
import { crc32, deserializeInto, MODEL_FILE_MAGIC, MODEL_FILE_VERSION, readModelBytes, serializeModel, type ModelFileContents } from '../nn/serialize.js';
import { ValueError } from '../tensor/errors.js';
import { writeFileAtomic } from './atomic.js';

/**
 * Write the model's parameters and buffers to `path` atomically (parent folders are created).
 * @example saveModel(model, 'runs/lenet/epoch-3.gscp')
 */
export function saveModel(model: Module, path: string): void {
  writeFileAtomic(path, serializeModel(model), 'saveModel');
}

/** Load a file written by `saveModel` into `model` (see `deserializeInto` for the checks). */
export function loadModel(model: Module, path: string): void {
  deserializeInto(model, readModelFileBytes('loadModel', path), `loadModel: '${path}'`);
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
  return withRegularFile(op, path, (fd, size) => {
    const preamble = readAt(fd, 0, Math.min(size, PREAMBLE_BYTES));
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
  });
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
