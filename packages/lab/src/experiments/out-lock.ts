/**
 * One run per out folder. Two `gradscope run`s on the same folder would both write
 * results.json, the saved task outputs and index.html, and the one that finishes last silently
 * wins. A run therefore takes <out>/.gradscope-run.lock exclusively for as long as it runs
 * (report included): the file is created complete and atomically (written under a temporary
 * name, then hard-linked to the lock name, which fails if the lock exists), and holds the pid,
 * host and start time of its holder. A lock whose holder is a dead process on this host (a run
 * killed with kill -9) is stale and taken over; a live holder is named in the error.
 *
 * The lock is re-entrant within a process (the CLI holds it across runPresets and the report,
 * and runPresets takes it too when called on its own).
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

export const LOCK_FILE = '.gradscope-run.lock';

interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

const held = new Map<string, number>(); // lock path → how many times this process holds it

/**
 * Check `out` before any work: a non-empty path that is, or can be made, a folder. Creates it,
 * so a path through an existing file fails here, with its name, and not after the first preset.
 */
export function prepareOutDir(out: string, op: string): void {
  if (typeof out !== 'string' || out.trim() === '') throw new Error(`${op}: --out must name a folder; got ${JSON.stringify(out)}`);
  let isDir = false;
  try {
    isDir = statSync(out).isDirectory();
  } catch {
    // Does not exist yet: created below.
  }
  if (isDir) return;
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EEXIST' ? 'it is a file, not a folder' : code === 'ENOTDIR' ? 'a part of the path is a file, not a folder' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new Error(`${op}: cannot use --out '${out}': ${why}`, { cause: e });
  }
}

function readLock(path: string): LockInfo | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    if (Number.isSafeInteger(o.pid) && typeof o.host === 'string' && typeof o.started === 'string') return o as LockInfo;
  } catch {
    // Unreadable: reported as unknown holder below.
  }
  return undefined;
}

/** Whether `pid` is a running process on this host (EPERM: it exists but is not ours). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function acquire(out: string, op: string): string {
  const path = resolve(out, LOCK_FILE);
  const count = held.get(path);
  if (count !== undefined) {
    held.set(path, count + 1);
    return path;
  }
  const info: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  const tmp = join(out, `${LOCK_FILE}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(info)}\n`, { flag: 'wx' });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, path);
        held.set(path, 1);
        return path;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${op}: cannot lock --out '${out}': ${(e as Error).message}`, { cause: e });
      }
      const holder = readLock(path);
      const stale = holder !== undefined && holder.host === info.host && !alive(holder.pid);
      if (!stale || attempt > 0) {
        const who = holder ? `pid ${holder.pid} on ${holder.host}, started ${holder.started}` : 'an unknown holder (the lock file is unreadable)';
        throw new Error(
          `${op}: --out '${out}' is in use by another gradscope run (${who}); wait for it to finish, use another --out, or delete '${path}' if that run is gone`,
        );
      }
      // Its holder died without removing it (e.g. kill -9): take it over. (A narrow race
      // remains only between two runs that find the same stale lock at the same instant.)
      rmSync(path, { force: true });
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

function release(path: string): void {
  const count = held.get(path)!;
  if (count > 1) {
    held.set(path, count - 1);
    return;
  }
  held.delete(path);
  rmSync(path, { force: true });
}

/** Run `fn` holding the lock on `out` (which must exist: see prepareOutDir). */
export async function withOutLock<T>(out: string, op: string, fn: () => Promise<T>): Promise<T> {
  const path = acquire(out, op);
  try {
    return await fn();
  } finally {
    release(path);
  }
}
