/**
 * JSON files that refuse to load when they are not exactly what was written: training
 * checkpoints (checkpoint-file.ts) and the runner's saved task outputs
 * (experiments/task-cache.ts). Model files get the same guarantee from their binary layout's
 * checksums (nn/serialize.ts); these files stay readable JSON.
 *
 * Layout: two lines.
 *   line 1   {"format":F,"version":V,"sha256":H}   the header
 *   line 2   the content as JSON                   H = SHA-256 of exactly these bytes (UTF-8)
 * JSON.stringify never writes a raw newline, so the first '\n' always ends the header.
 *
 * JSON has no NaN, ±Infinity or −0 (JSON.stringify writes null for the first three and 0 for
 * the last), and no typed arrays (it writes {"0":…,"1":…}). They are written as tagged objects
 * — {"$number":"NaN"}, {"$typed":"Float32Array","values":[…]} — and restored exactly, so a
 * diverged run's NaN comes back as NaN, never as null or 0. A tag that is not one of these
 * exact forms is refused (with its path), not guessed.
 */
import { createHash } from 'node:crypto';
import { ValueError } from '../tensor/errors.js';

const TYPED = { Float64Array, Float32Array, Int32Array, Uint8Array } as const;
type TypedName = keyof typeof TYPED;
const SPECIAL_NUMBERS: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY, '-0': -0 };

/** The first line of a sealed JSON file (see the file comment). */
export interface SealedHeader {
  /** What the file holds, e.g. 'gradscope-checkpoint'; a reader refuses any other. */
  format: string;
  /** The layout version of that format; a reader refuses any other. */
  version: number;
  /** SHA-256 of the content line (UTF-8, without its final newline), 64 lowercase hex digits. */
  sha256: string;
}

/** SHA-256 of `text` as UTF-8, in lowercase hex. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** JSON.stringify replacer: non-finite numbers, −0 and typed arrays as tagged objects. */
export function encodeSpecial(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && (!Number.isFinite(value) || Object.is(value, -0))) return { $number: Object.is(value, -0) ? '-0' : String(value) };
  if (ArrayBuffer.isView(value)) {
    const name = value.constructor.name;
    if (!Object.hasOwn(TYPED, name)) throw new ValueError(`sealed JSON: cannot store a ${name} (only ${Object.keys(TYPED).join(', ')})`);
    return { $typed: name, values: Array.from(value as unknown as ArrayLike<number>) };
  }
  return value;
}

/** The content as the one-line JSON text that `sealJson` checksums. */
export function encodeJson(content: unknown): string {
  return JSON.stringify(content, encodeSpecial);
}

/** Undo `encodeSpecial` on parsed JSON, refusing malformed tags; `path` names the value in errors. */
export function decodeSpecial(value: unknown, path: string, fail: (message: string) => never): unknown {
  if (Array.isArray(value)) return value.map((v, i) => decodeSpecial(v, `${path}[${i}]`, fail));
  if (typeof value !== 'object' || value === null) return value;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  if ('$number' in o) {
    if (keys.length !== 1 || typeof o.$number !== 'string' || !Object.hasOwn(SPECIAL_NUMBERS, o.$number)) {
      fail(`${path} is ${JSON.stringify(o)}; a tagged number must be {"$number": "NaN" | "Infinity" | "-Infinity" | "-0"}`);
    }
    return SPECIAL_NUMBERS[o.$number as string];
  }
  if ('$typed' in o) {
    const values = o.values;
    if (keys.length !== 2 || typeof o.$typed !== 'string' || !Object.hasOwn(TYPED, o.$typed) || !Array.isArray(values)) {
      fail(`${path} is not a valid typed array: expected {"$typed": ${Object.keys(TYPED).join(' | ')}, "values": [...]}`);
    }
    const numbers = (values as unknown[]).map((v, i) => {
      const x = decodeSpecial(v, `${path}.values[${i}]`, fail);
      if (typeof x !== 'number') fail(`${path}.values[${i}] is ${JSON.stringify(v)}; expected a number`);
      return x as number;
    });
    return TYPED[o.$typed as TypedName].from(numbers);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = decodeSpecial(o[k], `${path}.${k}`, fail);
  return out;
}

/** The text of a sealed file holding `content` (see the file comment). */
export function sealJson(format: string, version: number, content: unknown): string {
  const body = encodeJson(content);
  const header: SealedHeader = { format, version, sha256: sha256Hex(body) };
  return `${JSON.stringify(header)}\n${body}\n`;
}

/**
 * Check and decode a sealed file's text: header, format, version, checksum, then the content
 * (tags restored). Throws a ValueError that starts with `where` (e.g. "loadCheckpoint: 'path'").
 */
export function openSealedJson(text: string, format: string, version: number, where: string): unknown {
  const fail = (message: string): never => {
    throw new ValueError(`${where}: ${message}`);
  };
  const newline = text.indexOf('\n');
  if (newline < 0) fail(`not a sealed '${format}' file: no header line (it may have been written by an older gradscope without a checksum, or truncated)`);
  let header: unknown;
  try {
    header = JSON.parse(text.slice(0, newline));
  } catch (e) {
    fail(`the header line is not valid JSON (${(e as Error).message})`);
  }
  const h = (typeof header === 'object' && header !== null && !Array.isArray(header) ? header : fail('the header line is not a JSON object')) as Record<string, unknown>;
  if (h.format !== format) fail(`header field 'format' is ${JSON.stringify(h.format)}; expected '${format}'`);
  if (h.version !== version) fail(`header field 'version' is ${JSON.stringify(h.version)}; this gradscope reads version ${version}`);
  if (typeof h.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(h.sha256)) fail(`header field 'sha256' is ${JSON.stringify(h.sha256)}; expected 64 hex digits`);
  // One trailing newline is part of the layout; anything else after the content is corruption.
  const body = text.endsWith('\n') ? text.slice(newline + 1, -1) : text.slice(newline + 1);
  const actual = sha256Hex(body);
  if (actual !== h.sha256) fail(`the content is corrupt: its SHA-256 is ${actual.slice(0, 16)}…, the header says ${(h.sha256 as string).slice(0, 16)}…`);
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (e) {
    fail(`the content is not valid JSON (${(e as Error).message})`);
  }
  return decodeSpecial(raw, 'content', fail);
}
