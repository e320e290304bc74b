/**
 * Model files on disk: `saveModel` / `loadModel` write and read the bytes of
 * `serializeModel` (src/nn/serialize.ts, which documents the format).
 *
 * Saving is atomic (DESIGN.md, Errors): the bytes go to a temporary file in the target's own
 * directory, which is flushed to disk and then renamed over the target. A rename within one
 * file system replaces the target in one step, so `path` always holds either the previous
 * complete file or the new complete one — never a half-written one — and the temporary file
 * is removed if anything fails.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Module } from '../nn/module.js';
import { deserializeInto, readModelBytes, serializeModel, type ModelFileContents } from '../nn/serialize.js';
import { ValueError } from '../tensor/errors.js';

/**
 * Write the model's parameters and buffers to `path` atomically (parent folders are created).
 * @example saveModel(model, 'runs/lenet/epoch-3.gscp')
 */
export function saveModel(model: Module, path: string): void {
  const bytes = serializeModel(model);
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  // A dot file next to the target: same directory, hence same file system, so rename is atomic.
  const tmp = join(dir, `.${basename(path)}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // Already failing; the original error is the one to report.
      }
    }
    rmSync(tmp, { force: true });
    throw new Error(`saveModel: could not write '${path}' (it is unchanged): ${(e as Error).message}`, { cause: e });
  }
  syncDirectory(dir);
}

/** Load a file written by `saveModel` into `model` (see `deserializeInto` for the checks). */
export function loadModel(model: Module, path: string): void {
  deserializeInto(model, readBytes('loadModel', path), `loadModel: '${path}'`);
}

/** Decode a model file without a model: its header (names, shapes, dtypes) and values. */
export function readModelFile(path: string): ModelFileContents {
  return readModelBytes(readBytes('readModelFile', path), `readModelFile: '${path}'`);
}

function readBytes(op: string, path: string): Uint8Array {
  let buffer: Buffer;
  try {
    buffer = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new ValueError(`${op}: cannot read '${path}': ${reason}`, { cause: e });
  }
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Flush the directory entry of the rename where the platform allows it (not on Windows). */
function syncDirectory(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Best effort: the rename itself is already atomic.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
