/**
 * File helpers for the CLI: atomic writes live in src/io/atomic.ts (temporary file + rename, so
 * a crash never leaves a half-written result where a complete one was expected).
 */
export { writeFileAtomic } from 'gradscope/io';
