/**
 * Errors of the file-system side of the data loaders. Both extend ValueError, so code that
 * catches ValueError from a loader keeps working; the subclasses carry what a caller needs to
 * act on (the variable to fix, the file that is wrong).
 */
import { ValueError } from '../tensor/errors.js';

/**
 * `$GRADSCOPE_CACHE_DIR` is set but cannot hold the dataset cache (a file in the way, no
 * permission, a read-only file system). It is an error rather than a silent fallback: the
 * variable is an explicit request, so the loader says so instead of writing somewhere else.
 */
export class CacheDirError extends ValueError {
  /** 'CacheDirError', so stack traces and `err.name` tell it from a plain ValueError. */
  override name = 'CacheDirError';
  constructor(
    message: string,
    /** The environment variable that named the folder. */
    readonly variable: string,
    /** The folder it named (resolved). */
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A dataset file in a user's folder is missing, unreadable or not in the format it should be. */
export class DataFileError extends ValueError {
  /** 'DataFileError', so stack traces and `err.name` tell it from a plain ValueError. */
  override name = 'DataFileError';
  constructor(
    message: string,
    /** The file (or the folder, when no file was found) the message is about. */
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
