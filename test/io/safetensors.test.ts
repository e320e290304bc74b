/**
 * safetensors and PyTorch state dicts (issue 18, item 5): the oracle's files decode to exactly
 * their tensor index and re-encode byte for byte; round trips keep every bit (float32, float64,
 * int32 ↔ I64, −0, NaN payloads, 0-d and empty tensors); every malformed kind is refused with a
 * message naming the rule and the tensor, and random corruptions give an error or a valid
 * result, never a crash; zoo models round-trip through stateDict/loadStateDict with PyTorch's
 * names and order; strict and non-strict loading; header-first file reading; atomic writes.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, openSync, ftruncateSync, closeSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BatchNorm1d, Linear, Sequential, ValueError, lenet5, mlp, resnet8, tensor, tinyTransformer, type Module, type Tensor } from '../../src/index.js';
import {
  SAFETENSORS_DTYPES,
  decodeSafetensors,
  encodeSafetensors,
  loadModel,
  loadSafetensors,
  loadStateDict,
  readSafetensors,
  readSafetensorsHeader,
  saveModel,
  saveSafetensors,
  stateDict,
} from '../../src/io/index.js';
import type { OracleCase } from '../../packages/lab/src/cli/oracle/format.js';
import { sequence } from '../../packages/lab/src/cli/oracle/families/model-spec.js';
import { mulberry32 } from '../arbitraries.js';
import { randomTensor } from '../gradcheck.js';

// Failures injected into node:fs for the atomic-write tests (off unless a test turns them on).
const inject = vi.hoisted(() => ({ failWrite: false, failRename: false }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    writeSync: ((fd: number, buffer: Uint8Array, offset: number, length: number) => {
      if (!inject.failWrite) return fs.writeSync(fd, buffer, offset, length);
      fs.writeSync(fd, buffer, offset, Math.floor(length / 2));
      throw new Error('ENOSPC: no space left on device (simulated)');
    }) as typeof fs.writeSync,
    renameSync: ((from: string, to: string) => {
      if (inject.failRename) throw new Error('EXDEV: rename failed (simulated)');
      return fs.renameSync(from, to);
    }) as typeof fs.renameSync,
  };
});

const tmp = mkdtempSync(join(tmpdir(), 'gradscope-safetensors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => {
  const d = join(tmp, `d${dirs++}`);
  mkdirSync(d);
  return d;
};

const oracleFile = fileURLToPath(new URL('../../packages/lab/oracle/interop.json', import.meta.url));
const CASES = JSON.parse(readFileSync(oracleFile, 'utf8')) as OracleCase[];
const caseNamed = (name: string) => CASES.find((c) => c.name === name)!;
const fileOf = (c: OracleCase) => new Uint8Array(Buffer.from(c.config.file_base64 as string, 'base64'));
const VALID = CASES.filter((c) => c.expected.error === false);
const MALFORMED = CASES.filter((c) => c.expected.error === true);

const bitsOf = (t: Tensor) => {
  const a = t.toTypedArray();
  return Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
};
/** Every state-dict entry of a model as (name, dtype, shape, bytes). */
const snapshot = (m: Module) => [...stateDict(m)].map(([n, t]) => [n, t.dtype, t.shape, bitsOf(t)]);

/** Float32 / float64 values with every special bit pattern a round trip must keep. */
const SPECIAL32 = new Float32Array(new Uint32Array([0x80000000, 0, 0x7f800001, 0xffa00001, 0x7fc12345, 0xffc00000, 0x7f800000, 0xff800000, 1, 0x807fffff]).buffer);
const SPECIAL64 = new Float64Array(new BigUint64Array([0x8000000000000000n, 0x7ff0000000000001n, 0xfff4000000000abcn, 0x7ff8000000000123n, 0x7ff0000000000000n, 1n]).buffer);

/** The oracle's lenet_bn model (Conv-BN2d-ReLU-MaxPool ×2, Flatten, Linear-BN1d-ReLU-Linear) from a case's layer spec. */
const lenetBn = (c: OracleCase, dtype: 'float32' | 'float64' = 'float64'): Sequential => sequence(c.config.layers, dtype);

/** A safetensors file from a header object and a buffer, as a hand-written (possibly broken) writer would make it. */
function handMade(header: unknown, buffer: Uint8Array, pad = true): Uint8Array {
  let json = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) while (new TextEncoder().encode(json).length % 8 !== 0) json += ' ';
  const jsonBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + jsonBytes.length + buffer.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.length), true);
  out.set(jsonBytes, 8);
  out.set(buffer, 8 + jsonBytes.length);
  return out;
}

describe('the oracle files (packages/lab/oracle/interop.json)', () => {
  it('has the 5 valid and 10 malformed cases the README lists', () => {
    expect(VALID.map((c) => c.name)).toEqual(['mlp_f32', 'mlp_f64', 'lenet_bn_f32', 'lenet_bn_f64', 'lenet_bn_f32_state_dict_order_unaligned']);
    expect(MALFORMED).toHaveLength(10);
  });

  for (const c of VALID) {
    it(`${c.name}: the header is exactly the case's tensor index and metadata`, () => {
      const bytes = fileOf(c);
      expect(bytes.length).toBe(c.config.file_size);
      const header = readSafetensorsHeader(bytes);
      expect(header.headerByteLength).toBe(c.config.header_length);
      expect(header.metadata).toEqual(c.config.metadata);
      expect(header.entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, data_offsets: e.dataOffsets }))).toEqual(c.config.tensor_index);
    });

    it(`${c.name}: every decoded tensor equals the expected values exactly (I64 as int32)`, () => {
      const { tensors } = decodeSafetensors(fileOf(c));
      const expectedNames = Object.keys(c.expected).filter((k) => k.startsWith('tensor/')).map((k) => k.slice(7));
      expect([...tensors.keys()].sort()).toEqual(expectedNames.sort());
      for (const [name, t] of tensors) {
        const e = c.expected[`tensor/${name}`] as { shape: number[]; data: number[]; dtype?: string };
        expect(t.shape).toEqual(e.shape);
        expect(t.dtype).toBe(e.dtype === 'int64' ? 'int32' : c.config.dtype === 'F32' ? 'float32' : 'float64');
        expect(Array.from(t.toTypedArray())).toEqual(e.data);
      }
    });
  }

  for (const c of VALID.filter((c) => c.config.layout === 'reference')) {
    it(`${c.name}: re-encoding the decoded tensors gives the reference writer's bytes exactly`, () => {
      const bytes = fileOf(c);
      const { tensors, metadata } = decodeSafetensors(bytes);
      expect(encodeSafetensors(tensors, { metadata })).toEqual(bytes);
    });
  }

  it('the unaligned state_dict-order file decodes like the aligned one would, and re-encodes in the reference layout', () => {
    const c = caseNamed('lenet_bn_f32_state_dict_order_unaligned');
    const { tensors } = decodeSafetensors(fileOf(c));
    const nbt = c.config.tensor_index.find((e: { name: string }) => e.name === '1.num_batches_tracked');
    expect(nbt.data_offsets[0] % 8).not.toBe(0); // the point of the case
    const again = decodeSafetensors(encodeSafetensors(tensors));
    expect([...again.tensors].map(([n, t]) => [n, t.dtype, bitsOf(t)]).sort()).toEqual([...tensors].map(([n, t]) => [n, t.dtype, bitsOf(t)]).sort());
    // Reference layout: I64 first, then F32, each by name; every tensor aligned to its element size.
    const entries = readSafetensorsHeader(encodeSafetensors(tensors)).entries;
    expect(entries.slice(0, 3).map((e) => e.name)).toEqual(['1.num_batches_tracked', '10.num_batches_tracked', '5.num_batches_tracked']);
    for (const e of entries) expect(e.dataOffsets[0] % (e.dtype === 'I64' ? 8 : 4)).toBe(0);
  });

  // The cases run through the oracle runner (float64 and float32, cpu and wasm) in the oracle
  // matrix of test/oracle.test.ts.
  it('has the 15 cases of the format', () => expect(CASES).toHaveLength(15));

  for (const name of ['lenet_bn_f64', 'lenet_bn_f32']) {
    it(`${name}: loadModel of the PyTorch file gives PyTorch's eval-mode outputs; saving again gives the same bytes`, () => {
      const c = caseNamed(name);
      const bytes = fileOf(c);
      const dir = freshDir();
      const model = lenetBn(c);
      // No extension: recognised by its header.
      writeFileSync(join(dir, 'weights.bin'), bytes);
      loadModel(model, join(dir, 'weights.bin'));
      const x = c.inputs.x!;
      const out = model.eval().forward(tensor(Float64Array.from(x.data), { shape: x.shape })).toTypedArray();
      const expected = c.expected.out as { data: number[] };
      out.forEach((v, i) => expect(Math.abs(v - expected.data[i]!)).toBeLessThanOrEqual(1e-10 + 1e-9 * Math.abs(expected.data[i]!)));
      // In the file's own dtype, num_batches_tracked (3 in the file) is kept, so the state dict
      // re-encodes to the very same file.
      const same = lenetBn(c, c.config.dtype === 'F32' ? 'float32' : 'float64');
      loadModel(same, join(dir, 'weights.bin'));
      expect(stateDict(same).get('5.num_batches_tracked')!.item()).toBe(3);
      saveSafetensors(same, join(dir, 'again.safetensors'), { metadata: c.config.metadata });
      expect(new Uint8Array(readFileSync(join(dir, 'again.safetensors')))).toEqual(bytes);
    });
  }
});

/** The regex each malformed kind's message must match: the rule, and the tensor where there is one. */
const MALFORMED_MESSAGES: Record<string, RegExp> = {
  too_small: /^decodeSafetensors: truncated: 5 bytes, but a safetensors file starts with an 8-byte header length$/,
  header_length_beyond_file: /^decodeSafetensors: truncated: the header length says 776 bytes, but only 760 bytes follow/,
  invalid_json: /^decodeSafetensors: the header is not valid JSON/,
  metadata_not_strings: /^decodeSafetensors: __metadata__ must map strings to strings; 'epoch' is the number 3$/,
  unknown_dtype: /^decodeSafetensors: tensor '2\.bias': unknown dtype "F24" \(safetensors dtypes: BOOL, U8/,
  overlapping_offsets: /^decodeSafetensors: tensor '4\.weight': its bytes \[\d+, \d+\) overlap those of '\d\.\w+' \[\d+, \d+\)$/,
  hole: /^decodeSafetensors: tensor '\S+' begins at byte \d+, but the previous tensor \('\S+'\) ends at \d+: bytes \[\d+, \d+\) of the buffer belong to no tensor$/,
  size_mismatch: /^decodeSafetensors: tensor '0\.bias': data_offsets \[\d+, \d+\] hold \d+ bytes, but shape \[\d*\] of F32 needs \d+ × 4 = \d+$/,
  truncated: /^decodeSafetensors: tensor '\S+': its bytes \[\d+, \d+\) lie beyond the end of the \d+-byte buffer \(the file is truncated\)$/,
  trailing_bytes: /^decodeSafetensors: 8 trailing bytes after the last tensor \('\S+' ends at byte \d+ of the \d+-byte buffer\)$/,
};

describe('malformed files are refused before any tensor data is decoded', () => {
  for (const c of MALFORMED) {
    it(`${c.name} (${c.config.defect}): a ValueError naming the rule`, () => {
      const bytes = fileOf(c);
      expect(bytes.length).toBe(c.config.file_size);
      let error: unknown;
      try {
        decodeSafetensors(bytes);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ValueError);
      expect((error as Error).message).toMatch(MALFORMED_MESSAGES[c.config.defect as string]!);
      expect(() => readSafetensorsHeader(bytes)).toThrow(ValueError);
    });

    it(`${c.name}: the file helpers name the path and refuse it too`, () => {
      const path = join(freshDir(), 'bad.safetensors');
      writeFileSync(path, fileOf(c));
      expect(() => readSafetensors(path)).toThrow(/^readSafetensors: '.*bad\.safetensors': /);
      const model = new Sequential(new Linear(6, 4, { seed: 0 }));
      const before = snapshot(model);
      expect(() => loadModel(model, path)).toThrow(/^loadModel: '.*bad\.safetensors': /);
      expect(snapshot(model)).toEqual(before);
    });
  }

  const f32 = (n: number) => new Uint8Array(4 * n);
  it.each([
    ['a header over the 100 MB cap', (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true); return b; })(), /the header length is 1099511627776 bytes, over the 100000000-byte limit/],
    ['a header that is a list', handMade('[1,2]', new Uint8Array(0)), /the header is not a JSON object; got a list/],
    ['invalid UTF-8 bytes', (() => { const b = handMade('{"a"     }', new Uint8Array(0)); b[10] = 0xff; return b; })(), /the header is not valid UTF-8/],
    ['a name listed twice', handMade('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(1)), /the header lists 'a' twice/],
    ['a negative dimension', handMade({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), /tensor 'a': the shape must be a list of non-negative integers; got \[-1\]/],
    ['a fractional dimension', handMade({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 6] } }, new Uint8Array(6)), /tensor 'a': the shape must be/],
    ['a shape too large for any file', handMade({ a: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 4] } }, f32(1)), /tensor 'a': shape \[1073741824,1073741824,1073741824\] has more elements than a file can hold/],
    ['offsets ending before they begin', handMade({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, f32(1)), /tensor 'a': data_offsets \[4, 0\] end before they begin/],
    ['one offset', handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [4] } }, f32(1)), /tensor 'a': data_offsets must be \[BEGIN, END\]/],
    ['no dtype', handMade({ a: { shape: [1], data_offsets: [0, 4] } }, f32(1)), /tensor 'a': the entry has no dtype/],
    ['an entry that is a string', handMade({ a: 'F32' }, f32(1)), /tensor 'a': expected \{dtype, shape, data_offsets\}; got the string "F32"/],
    ['metadata that is a list', handMade({ __metadata__: ['x'] }, new Uint8Array(0)), /__metadata__ must be an object of strings; got a list/],
    ['a hole before the first tensor', handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(2)), /tensor 'a' begins at byte 4, but it is the first tensor: bytes \[0, 4\) of the buffer belong to no tensor/],
    ['bytes and no tensors', handMade({}, f32(1)), /4 trailing bytes after the last tensor \(the header lists no tensors\)/],
    ['a U8 tensor (a known dtype gradscope does not decode)', handMade({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2)), /tensor 'a': dtype U8 is not supported \(gradscope reads F32, F64, F16, BF16, I32 and I64/],
    ['an I64 value beyond int32', (() => { const b = new Uint8Array(8); new DataView(b.buffer).setBigInt64(0, 2n ** 40n, true); return handMade({ step: { dtype: 'I64', shape: [], data_offsets: [0, 8] } }, b); })(), /tensor 'step': I64 value 1099511627776 at flat index 0 does not fit gradscope's int32/],
  ] as const)('%s', (_what, bytes, message) => {
    expect(() => decodeSafetensors(bytes)).toThrow(ValueError);
    expect(() => decodeSafetensors(bytes)).toThrow(message);
  });

  it('the header of a U8 file is still listed (readSafetensorsHeader knows every format dtype)', () => {
    const header = readSafetensorsHeader(handMade({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] }, __metadata__: null }, new Uint8Array(2)));
    expect(header.entries).toEqual([{ name: 'a', dtype: 'U8', shape: [2], dataOffsets: [0, 2] }]);
    expect(header.metadata).toBeNull();
  });

  it('fuzz: random corruptions and truncations give a ValueError or a valid result, never a crash or an allocation beyond the input', () => {
    const sources = VALID.map(fileOf);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: sources.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 0, maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.boolean(),
        (which, flips, cut, inHeader) => {
          const source = sources[which]!;
          const headerEnd = 8 + Number(new DataView(source.buffer, source.byteOffset).getBigUint64(0, true));
          const bytes = new Uint8Array(source);
          // Flips mostly in the first 8 bytes and the header (where the checks are), some anywhere.
          for (const [at, value] of flips) bytes[inHeader ? at % headerEnd : at % bytes.length] = value;
          const input = cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
          try {
            const { tensors } = decodeSafetensors(input);
            let total = 0;
            for (const t of tensors.values()) total += t.toTypedArray().byteLength;
            // Decoded values never take more than twice their bytes (I64 → int32 halves; F16 → float32 doubles).
            expect(total).toBeLessThanOrEqual(2 * input.length);
          } catch (e) {
            if (!(e instanceof ValueError)) throw e;
            expect((e as Error).message).toMatch(/^decodeSafetensors: /);
          }
        },
      ),
      { numRuns: 400, seed: 18 },
    );
  });

  it('fuzz: random headers (JSON fragments and numbers) are refused cleanly', () => {
    const value = fc.oneof(fc.integer({ min: -3, max: 2 ** 60 }), fc.double(), fc.string(), fc.constant(null), fc.array(fc.integer({ min: -2, max: 64 }), { maxLength: 3 }));
    const entry = fc.record({ dtype: fc.oneof(fc.constantFrom(...SAFETENSORS_DTYPES), fc.string()), shape: value, data_offsets: value }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(entry, value)), fc.nat({ max: 64 }), (header, n) => {
        try {
          decodeSafetensors(handMade(header, new Uint8Array(n)));
        } catch (e) {
          if (!(e instanceof ValueError)) throw e;
        }
      }),
      { numRuns: 400, seed: 5 },
    );
  });
});

describe('encodeSafetensors / decodeSafetensors round trips', () => {
  it('keeps every bit of float32, float64 and int32 (as I64), 0-d and empty tensors', () => {
    const tensors = {
      special32: tensor(SPECIAL32, { shape: [2, 5] }),
      special64: tensor(SPECIAL64, { shape: [3, 2] }),
      ints: tensor(Int32Array.of(0, -1, 2 ** 31 - 1, -(2 ** 31), 7), { shape: [5] }),
      scalar: tensor(Float64Array.of(-0), { shape: [] }),
      empty: tensor(new Float32Array(0), { shape: [0, 3] }),
    };
    const bytes = encodeSafetensors(tensors, { metadata: { format: 'pt', note: 'ünïcode ✓' } });
    const { tensors: back, metadata, header } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
    expect(header.entries.find((e) => e.name === 'ints')!.dtype).toBe('I64');
    for (const [name, t] of Object.entries(tensors)) {
      const b = back.get(name)!;
      expect([b.dtype, b.shape, bitsOf(b)]).toEqual([t.dtype, t.shape, bitsOf(t)]);
    }
    // The I32 option, and the 8-byte alignment of the header by spaces.
    const i32 = encodeSafetensors({ ints: tensors.ints }, { intDType: 'I32' });
    expect(readSafetensorsHeader(i32).entries[0]!.dtype).toBe('I32');
    expect(bitsOf(decodeSafetensors(i32).tensors.get('ints')!)).toEqual(bitsOf(tensors.ints));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + n))).toMatch(/^\{"__metadata__":\{"format":"pt","note":"ünïcode ✓"\},"ints":\{"dtype":"I64","shape":\[5\],"data_offsets":\[0,40\]\},"scalar":\{"dtype":"F64","shape":\[\],"data_offsets":\[40,48\]\},"special64".*,"empty":\{"dtype":"F32","shape":\[0,3\],"data_offsets":\[96,96\]\},"special32".*\} *$/);
  });

  it("names such as '__proto__' stay plain keys (metadata and tensors), and re-encode to the same bytes", () => {
    const bytes = handMade('{"__metadata__":{"__proto__":"x"},"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(new Float32Array([2.5]).buffer));
    const { metadata, tensors } = decodeSafetensors(bytes);
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.entries(metadata!)).toEqual([['__proto__', 'x']]);
    expect(tensors.get('__proto__')!.item()).toBe(2.5);
    expect(encodeSafetensors(tensors, { metadata })).toEqual(bytes);
  });

  it('property: random tensors of every dtype round-trip bit for bit, and encoding is deterministic', () => {
    const shapes = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 });
    const item = fc.tuple(fc.constantFrom('float32', 'float64', 'int32'), shapes, fc.integer());
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }).filter((s) => s !== '__metadata__'), item, { maxKeys: 6 }), (spec) => {
        const tensors = new Map<string, Tensor>();
        for (const [name, [dtype, shape, seed]] of Object.entries(spec)) {
          const rng = mulberry32(seed);
          const n = shape.reduce((p, d) => p * d, 1);
          const bits = Uint32Array.from({ length: dtype === 'float64' ? 2 * n : n }, () => Math.floor(rng() * 2 ** 32));
          const data = dtype === 'float32' ? new Float32Array(bits.buffer) : dtype === 'float64' ? new Float64Array(bits.buffer) : new Int32Array(bits.buffer);
          tensors.set(name, tensor(data, { shape }));
        }
        const bytes = encodeSafetensors(tensors);
        // The same tensors in another insertion order give the same bytes.
        expect(encodeSafetensors(new Map([...tensors].reverse()))).toEqual(bytes);
        const back = decodeSafetensors(bytes).tensors;
        expect([...back.keys()].sort()).toEqual([...tensors.keys()].sort());
        for (const [name, t] of tensors) expect([back.get(name)!.dtype, back.get(name)!.shape, bitsOf(back.get(name)!)]).toEqual([t.dtype, t.shape, bitsOf(t)]);
      }),
      { numRuns: 60, seed: 11 },
    );
  });

  it('decodes F16 and BF16 by exact widening to float32', () => {
    const half = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x3555, 0x7e01]);
    const bf = new Uint16Array([0x3f80, 0xc0a0, 0x0001, 0x7f80, 0x8000, 0x7fc1]);
    const buffer = new Uint8Array([...new Uint8Array(half.buffer), ...new Uint8Array(bf.buffer)]);
    const bytes = handMade({ h: { dtype: 'F16', shape: [9], data_offsets: [0, 18] }, b: { dtype: 'BF16', shape: [6], data_offsets: [18, 30] } }, buffer);
    const { tensors } = decodeSafetensors(bytes);
    const h = tensors.get('h')!.toTypedArray();
    expect(tensors.get('h')!.dtype).toBe('float32');
    expect(Array.from(h.subarray(0, 8))).toEqual([1, -2, 2 ** -24, 65504, Infinity, -Infinity, -0, 0.333251953125]);
    expect(new Uint32Array(h.buffer, h.byteOffset, 9)[8]).toBe(0x7fc02000); // NaN payload shifted as hardware does
    const b = tensors.get('b')!.toTypedArray();
    expect(Array.from(new Uint32Array(b.buffer, b.byteOffset, 6))).toEqual([0x3f800000, 0xc0a00000, 0x00010000, 0x7f800000, 0x80000000, 0x7fc10000]);
  });

  it('refuses bad arguments with messages naming encodeSafetensors', () => {
    const t = tensor([1, 2]);
    expect(() => encodeSafetensors({ __metadata__: t })).toThrow(/encodeSafetensors: '__metadata__' is reserved/);
    expect(() => encodeSafetensors([['a', t], ['a', t]])).toThrow(/encodeSafetensors: the name 'a' appears twice/);
    expect(() => encodeSafetensors({ '': t })).toThrow(/encodeSafetensors: every tensor needs a non-empty name/);
    expect(() => encodeSafetensors({ a: [1, 2] as unknown as Tensor })).toThrow(/encodeSafetensors: 'a' must be a Tensor; got an array/);
    expect(() => encodeSafetensors(t as never)).toThrow(/encodeSafetensors: expected the tensors as a Map, an object or \[name, Tensor\] pairs; got a Tensor/);
    expect(() => encodeSafetensors({ a: t }, { metadata: { epoch: 3 as unknown as string } })).toThrow(/encodeSafetensors: metadata must map strings to strings; 'epoch' is 3/);
    expect(() => encodeSafetensors({ a: t }, { intDType: 'I16' as 'I32' })).toThrow(/intDType must be 'I64' or 'I32'/);
    expect(() => decodeSafetensors([1, 2, 3] as unknown as Uint8Array)).toThrow(/decodeSafetensors: expected the file's bytes as a Uint8Array; got an array/);
  });
});

describe('state dicts of zoo models (PyTorch names and order)', () => {
  it('lenet5: params then buffers per module, num_batches_tracked after running_var, as torch state_dict()', () => {
    const keys = [...stateDict(lenet5({ seed: 0 })).keys()];
    expect(keys.slice(0, 9)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked', '4.weight', '4.bias']);
    expect(keys.filter((k) => k.endsWith('num_batches_tracked'))).toEqual(['1.num_batches_tracked', '5.num_batches_tracked', '10.num_batches_tracked', '13.num_batches_tracked']);
    const nbt = stateDict(lenet5({ seed: 0 })).get('1.num_batches_tracked')!;
    expect([nbt.dtype, nbt.shape, nbt.item()]).toEqual(['int32', [], 0]);
  });

  it('resnet8: nested Residual names (body / shortcut) and conv layers without bias', () => {
    const keys = [...stateDict(resnet8({ seed: 0, width: 4 })).keys()];
    expect(keys.slice(0, 6)).toEqual(['0.weight', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked']);
    expect(keys).toContain('4.0.shortcut.1.running_var');
    expect(keys).toContain('3.0.body.4.num_batches_tracked');
    expect(keys.at(-1)).toBe('7.bias');
  });

  for (const [name, make] of [
    ['mlp', (seed: number, dtype: 'float32' | 'float64') => mlp([6, 5, 3], { seed, dtype, batchNorm: true })],
    ['lenet5', (seed: number, dtype: 'float32' | 'float64') => lenet5({ seed, dtype })],
    ['resnet8', (seed: number, dtype: 'float32' | 'float64') => resnet8({ seed, dtype, width: 4 })],
    ['tinyTransformer', (seed: number, dtype: 'float32' | 'float64') => tinyTransformer({ seed, dtype })],
  ] as const) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`${name} ${dtype}: encode(stateDict) → decode → loadStateDict is bit-identical, eval outputs equal`, () => {
        const trained = make(1, dtype);
        // Non-trivial running statistics: one train-mode forward.
        const x = randomTensor(name === 'mlp' ? [4, 6] : name === 'tinyTransformer' ? [2, 28, 28] : [2, 1, 28, 28], mulberry32(3)).to(dtype);
        trained.train().forward(x);
        const bytes = encodeSafetensors(stateDict(trained), { metadata: { format: 'pt' } });
        const fresh = make(2, dtype);
        expect(snapshot(fresh)).not.toEqual(snapshot(trained));
        const params = fresh.parameters();
        expect(loadStateDict(fresh, decodeSafetensors(bytes).tensors)).toEqual({ missingKeys: [], unexpectedKeys: [] });
        expect(snapshot(fresh)).toEqual(snapshot(trained));
        expect(fresh.parameters().every((p, i) => p === params[i])).toBe(true); // loaded in place
        expect(bitsOf(fresh.eval().forward(x))).toEqual(bitsOf(trained.eval().forward(x)));
        expect(encodeSafetensors(stateDict(fresh), { metadata: { format: 'pt' } })).toEqual(bytes);
      });
    }
  }

  it('num_batches_tracked is written as a 0-d I64, the count last loaded', () => {
    const c = caseNamed('lenet_bn_f32');
    const model = lenetBn(c);
    loadSafetensors(model, fileOf(c));
    const header = readSafetensorsHeader(encodeSafetensors(stateDict(model)));
    const counts = header.entries.filter((e) => e.name.endsWith('num_batches_tracked'));
    expect(counts.map((e) => [e.name, e.dtype, e.shape])).toEqual([['1.num_batches_tracked', 'I64', []], ['10.num_batches_tracked', 'I64', []], ['5.num_batches_tracked', 'I64', []]]);
    expect([...stateDict(model)].filter(([n]) => n.endsWith('tracked')).map(([, t]) => t.item())).toEqual([3, 3, 3]);
    expect(stateDict(lenetBn(c)).get('1.num_batches_tracked')!.item()).toBe(0); // a fresh model: 0
  });
});

describe('loadStateDict: strict and non-strict', () => {
  const small = (seed = 0, dtype: 'float32' | 'float64' = 'float32') => new Sequential(new Linear(3, 2, { seed, dtype }), new BatchNorm1d(2, { dtype }));
  const dictOf = (m: Module) => new Map(stateDict(m));

  it('strict: one error lists every missing and unexpected key, and nothing is loaded', () => {
    const model = small(0);
    const before = snapshot(model);
    const dict = dictOf(small(1));
    dict.delete('0.bias');
    dict.delete('1.running_var');
    dict.set('module.extra', tensor([1]));
    expect(() => loadStateDict(model, dict)).toThrow(
      /^loadStateDict: the state dict does not match the model \(2 missing, 1 unexpected, 0 mismatched; nothing was loaded; pass \{ strict: false \} to load the keys that match\):\n {2}- missing from the state dict: '0\.bias' \(parameter \[2\] float32\), '1\.running_var' \(buffer \[2\] float32\)\n {2}- in the state dict but not in the model: 'module\.extra' \(\[1\] float32\)$/,
    );
    expect(snapshot(model)).toEqual(before);
  });

  it("strict: keys under a wrapper's prefix ('module.') get a hint", () => {
    const wrapped = new Map([...stateDict(small(1))].map(([k, t]) => [`module.${k}`, t]));
    expect(() => loadStateDict(small(0), wrapped)).toThrow(
      /\(6 missing, 7 unexpected, 0 mismatched; nothing was loaded; the state dict's keys start with 'module\.' \(a wrapper such as DataParallel's 'module\.'\?\): remove it from every key\)/,
    );
  });

  it('non-strict: loads what matches, returns the missing and unexpected keys', () => {
    const model = small(0);
    const source = small(1);
    const dict = dictOf(source);
    dict.delete('0.bias');
    dict.set('extra', tensor([1]));
    const oldBias = bitsOf(model.namedParameters()[1]![1]);
    expect(loadStateDict(model, dict, { strict: false })).toEqual({ missingKeys: ['0.bias'], unexpectedKeys: ['extra'] });
    expect(bitsOf(model.namedParameters()[0]![1])).toEqual(bitsOf(source.namedParameters()[0]![1]));
    expect(bitsOf(model.namedParameters()[1]![1])).toEqual(oldBias);
  });

  it('shape and dtype-kind mismatches are refused even when not strict', () => {
    const model = small(0);
    const before = snapshot(model);
    const dict = dictOf(small(1));
    dict.set('0.weight', tensor(new Float32Array(6), { shape: [3, 2] }));
    dict.set('1.num_batches_tracked', tensor([3.5], { dtype: 'float32', shape: [] }));
    dict.set('1.running_mean', tensor(Int32Array.of(1, 2)));
    const message =
      /^loadStateDict: the state dict does not match the model \(3 mismatched; nothing was loaded\):\n {2}- mismatch '0\.weight': shape \[2,3\] in the model, \[3,2\] in the state dict\n {2}- mismatch '1\.running_mean': a float32 buffer in the model, int32 in the state dict\n {2}- mismatch '1\.num_batches_tracked': an integer buffer in the model, float32 in the state dict$/;
    expect(() => loadStateDict(model, dict, { strict: false })).toThrow(message);
    expect(() => loadStateDict(model, dict)).toThrow(/3 mismatched/);
    expect(snapshot(model)).toEqual(before);
  });

  it('converts float64 values into a float32 model (rounding as PyTorch copy_) and float32 into float64 exactly', () => {
    const source = small(1, 'float64');
    const into32 = small(0, 'float32');
    loadStateDict(into32, stateDict(source));
    expect(Array.from(into32.namedParameters()[0]![1].toTypedArray())).toEqual(Array.from(Float32Array.from(source.namedParameters()[0]![1].toTypedArray())));
    const into64 = small(0, 'float64');
    loadStateDict(into64, stateDict(into32));
    expect(Array.from(into64.namedParameters()[0]![1].toTypedArray())).toEqual(Array.from(into32.namedParameters()[0]![1].toTypedArray()));
  });

  it('num_batches_tracked may be absent (PyTorch fills in 0), and its count is kept when present', () => {
    const model = small(0);
    const dict = dictOf(small(1));
    dict.set('1.num_batches_tracked', tensor(Int32Array.of(7), { shape: [] }));
    loadStateDict(model, dict);
    expect(stateDict(model).get('1.num_batches_tracked')!.item()).toBe(7);
    dict.delete('1.num_batches_tracked');
    expect(loadStateDict(model, dict)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(stateDict(model).get('1.num_batches_tracked')!.item()).toBe(0);
  });

  it('refuses bad arguments clearly', () => {
    expect(() => loadStateDict({} as Module, new Map())).toThrow(/loadStateDict: expected a model \(Module\)/);
    expect(() => loadStateDict(small(), new Map(), { strict: 'yes' as unknown as boolean })).toThrow(/loadStateDict: strict must be true or false/);
    expect(() => loadStateDict(small(), { '0.weight': 3 as unknown as Tensor })).toThrow(/loadStateDict: '0\.weight' must be a Tensor; got 3/);
  });
});

describe('safetensors files', () => {
  it('saveSafetensors / loadSafetensors / readSafetensors, and saveModel / loadModel by the .safetensors name', () => {
    const dir = freshDir();
    const trained = lenet5({ seed: 1, dtype: 'float64' });
    saveSafetensors(trained, join(dir, 'a.safetensors'));
    const bytes = new Uint8Array(readFileSync(join(dir, 'a.safetensors')));
    expect(bytes).toEqual(encodeSafetensors(stateDict(trained), { metadata: { format: 'pt' } }));
    expect(readSafetensors(join(dir, 'a.safetensors')).metadata).toEqual({ format: 'pt' });

    const fresh = lenet5({ seed: 2, dtype: 'float64' });
    expect(loadSafetensors(fresh, join(dir, 'a.safetensors'))).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(snapshot(fresh)).toEqual(snapshot(trained));
    expect(loadSafetensors(lenet5({ seed: 3, dtype: 'float64' }), bytes).missingKeys).toEqual([]);

    saveModel(trained, join(dir, 'b.safetensors'));
    expect(new Uint8Array(readFileSync(join(dir, 'b.safetensors')))).toEqual(bytes);
    const viaLoadModel = lenet5({ seed: 4, dtype: 'float64' });
    loadModel(viaLoadModel, join(dir, 'b.safetensors'));
    expect(snapshot(viaLoadModel)).toEqual(snapshot(trained));
    // A gradscope model file still loads as one.
    saveModel(trained, join(dir, 'c.gscp'));
    loadModel(lenet5({ seed: 5, dtype: 'float64' }), join(dir, 'c.gscp'));
    // Named tensors, with their own options.
    saveSafetensors({ w: tensor([1, 2]) }, join(dir, 'd.safetensors'), { metadata: { k: 'v' } });
    expect(readSafetensors(join(dir, 'd.safetensors')).metadata).toEqual({ k: 'v' });
  });

  it('loadModel of a PyTorch file into the wrong model lists the mismatches, naming the path', () => {
    const path = join(freshDir(), 'mlp.safetensors');
    writeFileSync(path, fileOf(caseNamed('mlp_f32')));
    expect(() => loadModel(mlp([6, 4, 8, 3], { seed: 0, activation: 'tanh' }), path)).toThrow(
      /^loadModel: '.*mlp\.safetensors': the state dict does not match the model \(0 missing, 0 unexpected, 2 mismatched; nothing was loaded\):\n {2}- mismatch '4\.weight': shape \[3,8\] in the model, \[2,8\] in the state dict\n {2}- mismatch '4\.bias': shape \[3\] in the model, \[2\] in the state dict$/,
    );
    expect(() => loadSafetensors(mlp([6, 4], { seed: 0 }), path)).toThrow(
      /^loadSafetensors: '.*mlp\.safetensors': the state dict does not match the model \(0 missing, 4 unexpected, 0 mismatched; nothing was loaded; pass \{ strict: false \} to load the keys that match\):\n {2}- in the state dict but not in the model: '2\.bias' \(\[8\] float32\), '2\.weight' \(\[8,4\] float32\), '4\.bias'/,
    );
    expect(loadSafetensors(mlp([6, 4], { seed: 0 }), path, { strict: false })).toEqual({ missingKeys: [], unexpectedKeys: ['2.bias', '2.weight', '4.bias', '4.weight'] });
  });

  it('reads the header first: a file whose header promises a huge buffer is refused without reading it', () => {
    const path = join(freshDir(), 'huge.safetensors');
    const real = encodeSafetensors({ w: tensor([1, 2, 3]) });
    writeFileSync(path, real);
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, 3 * 2 ** 30); // sparse: no disk space used
    closeSync(fd);
    const t0 = performance.now();
    expect(() => readSafetensors(path)).toThrow(new RegExp(`^readSafetensors: '.*huge\\.safetensors': ${3 * 2 ** 30 - real.length} trailing bytes after the last tensor`));
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(() => loadSafetensors(mlp([3, 1], { seed: 0 }), '/dev/zero')).toThrow(/^loadSafetensors: cannot read '\/dev\/zero': not a regular file/);
    expect(() => readSafetensors(join(tmp, 'nope.safetensors'))).toThrow(/^readSafetensors: cannot read '.*nope\.safetensors': no such file/);
  });

  for (const [what, turnOn] of [
    ['the temporary write fails halfway', () => (inject.failWrite = true)],
    ['the rename fails', () => (inject.failRename = true)],
  ] as const) {
    it(`atomic: when ${what}, the old file stays complete and no temporary file remains`, () => {
      const dir = freshDir();
      const path = join(dir, 'model.safetensors');
      const old = mlp([3, 3], { seed: 1 });
      saveSafetensors(old, path);
      const oldBytes = new Uint8Array(readFileSync(path));
      turnOn();
      try {
        expect(() => saveSafetensors(mlp([3, 3], { seed: 2 }), path)).toThrow(/saveSafetensors: could not write '.*model\.safetensors' \(it is unchanged\): (ENOSPC|EXDEV)/);
      } finally {
        inject.failWrite = false;
        inject.failRename = false;
      }
      expect(readdirSync(dir)).toEqual(['model.safetensors']);
      expect(new Uint8Array(readFileSync(path))).toEqual(oldBytes);
    });
  }

  it('atomic: a failure on a fresh path leaves nothing at all', () => {
    const dir = freshDir();
    inject.failWrite = true;
    try {
      expect(() => saveModel(mlp([3, 3], { seed: 2 }), join(dir, 'model.safetensors'))).toThrow(/saveSafetensors: could not write/);
    } finally {
      inject.failWrite = false;
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});
