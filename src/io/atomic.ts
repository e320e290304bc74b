/**
 * Atomic file writes (docs/design.md, Errors): the bytes go to a temporary file in the target's own
 * directory, which is flushed to disk and then renamed over the target. A rename within one
 * file system replaces the target in one step, so `path` always holds either the previous
 * complete file or the new complete one — never a half-written one — and the temporary file
 * is removed if anything fails. Parent folders are created.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Write `contents` (a string is written as UTF-8) to `path` atomically, as the file comment
 * describes: afterwards `path` holds either its previous contents or all of the new ones.
 * Parent folders are created first (a failure there throws Node's own error); if writing,
 * flushing or the rename then fails, the temporary file is removed and an Error that starts
 * with `op` says the target is unchanged.
 * @example writeFileAtomic('runs/summary.json', JSON.stringify(summary), 'saveSummary')
 */
export function writeFileAtomic(path: string, contents: string | Uint8Array, op = 'write'): void {
  const bytes = typeof contents === 'string' ? new TextEncoder().encode(contents) : contents;
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
    throw new Error(`${op}: could not write '${path}' (it is unchanged): ${(e as Error).message}`, { cause: e });
  }
  syncDirectory(dir);
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
