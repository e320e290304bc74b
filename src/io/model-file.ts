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
import { readFileSync } from 'node:fs';
import type { Module } from '../nn/module.js';
import { deserializeInto, readModelBytes, serializeModel, type ModelFileContents } from '../nn/serialize.js';
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
  deserializeInto(model, readBytes('loadModel', path), `loadModel: '${path}'`);
}

/** Decode a model file without a model: its header (names, shapes, dtypes) and values. */
export function readModelFile(path: string): ModelFileContents {
  return readModelBytes(readBytes('readModelFile', path), `readModelFile: '${path}'`);
}

export function readBytes(op: string, path: string): Uint8Array {
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
