/**
 * Model files: bit-identical round trips (float32 and float64, BatchNorm buffers, −0, NaN
 * payloads, signalling NaNs), the byte layout read back with DataView (magic, version, JSON
 * header, aligned little-endian payload), one error listing every mismatch (and nothing
 * loaded), clear rejection of truncated or corrupt bytes, and atomic saving: a failing write
 * or rename leaves the previous file intact and no temporary file behind.
 */
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ValueError, tensor, type Tensor } from '../../src/index.js';
import { loadModel, readModelFile, saveModel } from '../../src/io/model-file.js';
import {
  BatchNorm1d,
  Linear,
  Module,
  Sequential,
  crc32,
  deserializeInto,
  lenet5,
  mlp,
  readModelBytes,
  resnet8,
  serializeModel,
} from '../../src/nn/index.js';
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
      // Write half, then fail as a full disk would.
      fs.writeSync(fd, buffer, offset, Math.floor(length / 2));
      throw new Error('ENOSPC: no space left on device (simulated)');
    }) as typeof fs.writeSync,
    renameSync: ((from: string, to: string) => {
      if (inject.failRename) throw new Error('EXDEV: rename failed (simulated)');
      return fs.renameSync(from, to);
    }) as typeof fs.renameSync,
  };
});

const bitsOf = (t: Tensor) => Array.from(new Uint8Array(t.toTypedArray().buffer));
/** Every parameter and buffer of a model as (name, bytes). */
const snapshot = (m: Module) => [...m.namedParameters(), ...m.namedBuffers()].map(([n, t]) => [n, t.dtype, bitsOf(t)]);

/** Float32 / float64 values with every special bit pattern we must keep. */
const SPECIAL32 = new Uint32Array([0x80000000, 0x00000000, 0x7f800001, 0xffa00001, 0x7fc12345, 0xffc00000, 0x7f800000, 0xff800000, 0x00000001, 0x807fffff]);
const SPECIAL64 = new BigUint64Array([0x8000000000000000n, 0x7ff0000000000001n, 0xfff4000000000abcn, 0x7ff8000000000123n, 0x7ff0000000000000n, 0x0000000000000001n]);

/** Put the special patterns at the start of the model's first parameter and first buffer. */
function plantSpecials(m: Module): void {
  const params = m.parameters().map((p) => p.toTypedArray());
  const first = params[0]!;
  if (first instanceof Float32Array) new Uint32Array(first.buffer).set(SPECIAL32);
  else new BigUint64Array(first.buffer).set(SPECIAL64);
  m.assignParameters(params.map((v, i) => tensor(v, { shape: m.parameters()[i]!.shape.slice() })));
  const stats = m.saveStats();
  const [name, values] = [...stats][0]!;
  if (values instanceof Float32Array) new Uint32Array(values.buffer).set(SPECIAL32.subarray(0, values.length));
  else new BigUint64Array(values.buffer).set(SPECIAL64.subarray(0, values.length));
  stats.set(name, values);
  m.restoreStats(stats);
}

describe('serializeModel / deserializeInto: round trip', () => {
  it('float32 LeNet-5 with trained BatchNorm buffers and special values: bit-identical', () => {
    const source = lenet5({ seed: 1 });
    source.forward(randomTensor([4, 1, 28, 28], mulberry32(2)).to('float32'));
    plantSpecials(source);
    const target = lenet5({ seed: 2 });
    const params = target.parameters();
    const versions = params.map((p) => p.version);
    expect(snapshot(target)).not.toEqual(snapshot(source));
    deserializeInto(target, serializeModel(source));
    expect(snapshot(target)).toEqual(snapshot(source));
    // Parameters were written in place: same objects, versions bumped, still trainable.
    target.parameters().forEach((p, i) => {
      expect(p).toBe(params[i]);
      expect(p.version).toBeGreaterThan(versions[i]!);
      expect(p.requiresGrad).toBe(true);
    });
    expect(new Uint32Array(target.parameters()[0]!.toTypedArray().buffer).subarray(0, SPECIAL32.length)).toEqual(SPECIAL32);
  });

  it('float64 ResNet-8: bit-identical, and the loaded model computes the same outputs', () => {
    const source = resnet8({ seed: 3, width: 2, dtype: 'float64' });
    source.forward(randomTensor([2, 1, 28, 28], mulberry32(4)));
    const target = resnet8({ seed: 4, width: 2, dtype: 'float64' });
    deserializeInto(target, serializeModel(source));
    expect(snapshot(target)).toEqual(snapshot(source));
    const x = randomTensor([2, 1, 28, 28], mulberry32(5));
    expect(Array.from(target.eval().forward(x).toTypedArray())).toEqual(Array.from(source.eval().forward(x).toTypedArray()));
    plantSpecials(source);
    deserializeInto(target, serializeModel(source));
    expect(snapshot(target)).toEqual(snapshot(source));
    expect(new BigUint64Array(target.parameters()[0]!.toTypedArray().buffer).subarray(0, SPECIAL64.length)).toEqual(SPECIAL64);
  });

  it('a model without parameters or buffers round-trips too', () => {
    const empty = new Sequential();
    const bytes = serializeModel(empty);
    expect(readModelBytes(bytes).header.entries).toEqual([]);
    expect(() => deserializeInto(new Sequential(), bytes)).not.toThrow();
  });

  it('is deterministic', () => {
    const m = mlp([3, 4, 2], { seed: 1, batchNorm: true });
    expect(serializeModel(m)).toEqual(serializeModel(m));
  });
});

describe('the byte layout', () => {
  const model = new Sequential(new Linear(3, 2, { seed: 1 }), new BatchNorm1d(2), new Linear(2, 1, { seed: 2, dtype: 'float32', bias: false }));
  model.forward(randomTensor([4, 3], mulberry32(1)).to('float32'));
  const bytes = serializeModel(model);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  it('magic, version, header length, header CRC, JSON header', () => {
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('GSCP');
    expect(view.getUint32(4, true)).toBe(1);
    const headerLength = view.getUint32(8, true);
    const headerBytes = bytes.subarray(16, 16 + headerLength);
    expect(view.getUint32(12, true)).toBe(crc32(headerBytes));
    const header = JSON.parse(new TextDecoder().decode(headerBytes));
    expect(header.format).toBe('gradscope-model');
    expect(typeof header.order).toBe('string');
    expect(header.entries.map((e: { name: string; kind: string; shape: number[]; dtype: string }) => [e.name, e.kind, e.shape, e.dtype])).toEqual([
      ['0.weight', 'parameter', [2, 3], 'float32'],
      ['0.bias', 'parameter', [2], 'float32'],
      ['1.weight', 'parameter', [2], 'float32'],
      ['1.bias', 'parameter', [2], 'float32'],
      ['2.weight', 'parameter', [1, 2], 'float32'],
      ['1.running_mean', 'buffer', [2], 'float32'],
      ['1.running_var', 'buffer', [2], 'float32'],
    ]);
  });

  it('payload: aligned, little-endian values at the documented offsets', () => {
    const headerLength = view.getUint32(8, true);
    const payloadStart = Math.ceil((16 + headerLength) / 8) * 8;
    const { header } = readModelBytes(bytes);
    expect(bytes.length).toBe(payloadStart + header.payloadByteLength);
    expect(crc32(bytes.subarray(payloadStart))).toBe(header.payloadCrc32);
    const tensors = [...model.namedParameters(), ...model.namedBuffers()];
    header.entries.forEach((entry, k) => {
      expect(entry.offset % 8).toBe(0);
      expect((payloadStart + entry.offset) % 8).toBe(0);
      const expected = Array.from(tensors[k]![1].toTypedArray());
      expect(entry.byteLength).toBe(expected.length * 4);
      const stored = expected.map((_, i) => view.getFloat32(payloadStart + entry.offset + 4 * i, true));
      expect(stored).toEqual(expected);
    });
  });

  it('crc32 is the standard IEEE CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('deserializeInto: mismatches are listed together and nothing is loaded', () => {
  /** A module with a buffer where Linear has a parameter, to get a kind mismatch. */
  class WeightBuffer extends Module {
    constructor() {
      super();
      this.registerBuffer('weight', tensor([[0, 0, 0], [0, 0, 0]], { dtype: 'float32' }));
      this.registerParameter('bias', tensor([0, 0], { dtype: 'float32' }));
    }
    forward(x: Tensor): Tensor {
      return x;
    }
  }

  it('missing and extra names, kind, shape and dtype mismatches in one error', () => {
    const file = serializeModel(new Sequential(new Linear(3, 2, { seed: 1 }), new BatchNorm1d(2), new Linear(2, 4, { seed: 2 })));
    const target = new Sequential(
      new WeightBuffer(), // '0.weight' is a buffer here; '0.bias' matches
      new BatchNorm1d(2, { dtype: 'float64' }), // dtype mismatch on all four members
      new Linear(2, 5, { seed: 3, bias: false }), // '2.weight' shape mismatch; '2.bias' not in the model
      new Linear(5, 1, { seed: 4 }), // '3.weight', '3.bias' missing from the file
    );
    const before = snapshot(target);
    let message = '';
    try {
      deserializeInto(target, file);
    } catch (e) {
      expect(e).toBeInstanceOf(ValueError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/^deserializeInto: the file does not match the model \(2 missing, 1 extra, 6 mismatched; nothing was loaded\)/);
    expect(message).toMatch(/missing from the file: '3\.weight' \(parameter \[1,5\] float32\), '3\.bias' \(parameter \[1\] float32\)/);
    expect(message).toMatch(/in the file but not in the model: '2\.bias' \(parameter \[4\] float32\)/);
    expect(message).toMatch(/mismatch '0\.weight': a buffer in the model, a parameter in the file/);
    expect(message).toMatch(/mismatch '1\.weight': dtype float64 in the model, float32 in the file/);
    expect(message).toMatch(/mismatch '1\.running_var': dtype float64 in the model, float32 in the file/);
    expect(message).toMatch(/mismatch '2\.weight': shape \[5,2\] in the model, \[4,2\] in the file/);
    expect(message).not.toMatch(/'0\.bias'/);
    expect(snapshot(target)).toEqual(before);
  });

  it('a different architecture from the zoo', () => {
    const file = serializeModel(lenet5({ seed: 1 }));
    expect(() => deserializeInto(lenet5({ seed: 1, classes: 5 }), file)).toThrow(/mismatch '15\.weight': shape \[5,84\] in the model, \[10,84\] in the file/);
    expect(() => deserializeInto(lenet5({ seed: 1, batchNorm: false }), file)).toThrow(/missing from the file: .*in the file but not in the model: '1\.weight' \(parameter \[6\] float32\)/s);
    expect(() => deserializeInto(lenet5({ seed: 1, dtype: 'float64' }), file)).toThrow(/0 missing, 0 extra, 26 mismatched/);
  });
});

describe('truncated or corrupt bytes are rejected clearly', () => {
  const model = mlp([3, 4, 2], { seed: 1, batchNorm: true });
  const good = serializeModel(model);
  const headerLength = new DataView(good.buffer).getUint32(8, true);
  const payloadStart = Math.ceil((16 + headerLength) / 8) * 8;
  const target = () => mlp([3, 4, 2], { seed: 9, batchNorm: true });
  const expectRejected = (bytes: Uint8Array, message: RegExp) => {
    const t = target();
    const before = snapshot(t);
    expect(() => deserializeInto(t, bytes)).toThrow(ValueError);
    expect(() => deserializeInto(t, bytes)).toThrow(message);
    expect(snapshot(t)).toEqual(before);
  };
  /** Replace the header by `edit(header)`, with a correct length and CRC. */
  const withHeader = (edit: (h: Record<string, unknown>) => void): Uint8Array => {
    const header = JSON.parse(new TextDecoder().decode(good.subarray(16, 16 + headerLength)));
    edit(header);
    const hb = new TextEncoder().encode(JSON.stringify(header));
    const start = Math.ceil((16 + hb.length) / 8) * 8;
    const out = new Uint8Array(start + good.length - payloadStart);
    out.set(good.subarray(0, 16));
    const v = new DataView(out.buffer);
    v.setUint32(8, hb.length, true);
    v.setUint32(12, crc32(hb), true);
    out.set(hb, 16);
    out.set(good.subarray(payloadStart), start);
    return out;
  };

  it('truncated anywhere', () => {
    for (const n of [0, 3, 15, 16, 16 + headerLength - 1, payloadStart, good.length - 1]) {
      expectRejected(good.slice(0, n), /deserializeInto: truncated: /);
    }
    expectRejected(good.slice(0, 10), /truncated: 10 bytes, but a gradscope model file starts with a 16-byte preamble/);
  });

  it('trailing bytes, wrong magic, unsupported version', () => {
    const longer = new Uint8Array(good.length + 3);
    longer.set(good);
    expectRejected(longer, /3 unexpected bytes after the payload/);
    const png = good.slice();
    png.set([0x89, 0x50, 0x4e, 0x47]);
    expectRejected(png, /not a gradscope model file: it starts with bytes 89 50 4e 47, not 'GSCP'/);
    const v2 = good.slice();
    new DataView(v2.buffer).setUint32(4, 2, true);
    expectRejected(v2, /unsupported format version 2 \(this gradscope reads version 1\)/);
  });

  it('a flipped bit in the header or the payload', () => {
    const badHeader = good.slice();
    badHeader[20] = badHeader[20]! ^ 0x01;
    expectRejected(badHeader, /the header is corrupt \(CRC-32 0x[0-9a-f]{8}, expected 0x[0-9a-f]{8}\)/);
    for (const at of [payloadStart, payloadStart + 17, good.length - 1]) {
      const badPayload = good.slice();
      badPayload[at] = badPayload[at]! ^ 0x40;
      expectRejected(badPayload, /the payload is corrupt/);
    }
  });

  it('a consistent but invalid header', () => {
    type Entry = Record<string, unknown>;
    const entries = (h: Record<string, unknown>) => h.entries as Entry[];
    expectRejected(withHeader((h) => (h.format = 'other')), /the header's format is "other", not 'gradscope-model'/);
    expectRejected(withHeader((h) => (entries(h)[1]!.dtype = 'int8')), /entry 1 \('0\.bias'\): unknown dtype "int8"/);
    expectRejected(withHeader((h) => (entries(h)[0]!.shape = [4, 4])), /entry 0 \('0\.weight'\): byteLength 48 does not fit \[4,4\] float32 \(64\)/);
    expectRejected(withHeader((h) => (entries(h)[1]!.offset = 8)), /entry 1 \('0\.bias'\): offset 8 is not a multiple of 8 at or after the previous entry's end \(48\)/);
    expectRejected(withHeader((h) => (entries(h)[2]!.name = '0.weight')), /entry 2 \('0\.weight'\): the name appears twice/);
    expectRejected(withHeader((h) => (entries(h)[0]!.kind = 'constant')), /entry 0 \('0\.weight'\): kind "constant"/);
    expectRejected(withHeader((h) => (h.entries = 'none')), /the header's entries are "none", not a list/);
    expectRejected(withHeader((h) => (h.payloadByteLength = 8)), /lie outside the 8-byte payload/);
  });

  it('not bytes at all', () => {
    expect(() => deserializeInto(target(), [1, 2, 3] as unknown as Uint8Array)).toThrow(/deserializeInto: expected a Uint8Array; got Array/);
    const text = new TextEncoder().encode('{"not": "a model"}');
    expect(() => readModelBytes(text)).toThrow(/readModelBytes: .*not a gradscope model file/);
  });
});

// ---- files ----------------------------------------------------------------------------------

describe('saveModel / loadModel', () => {
  const root = mkdtempSync(join(tmpdir(), 'gradscope-model-file-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  beforeEach(() => {
    inject.failWrite = false;
    inject.failRename = false;
  });
  let counter = 0;
  const freshDir = () => {
    const dir = join(root, `case-${counter++}`);
    mkdirSync(dir);
    return dir;
  };

  it('round-trips through a file bit for bit and leaves only the target in the folder', () => {
    const dir = freshDir();
    const source = mlp([4, 5, 3], { seed: 1, batchNorm: true });
    source.forward(randomTensor([3, 4], mulberry32(1)).to('float32'));
    plantSpecials(source);
    const path = join(dir, 'model.gscp');
    saveModel(source, path);
    expect(readdirSync(dir)).toEqual(['model.gscp']);
    expect(new Uint8Array(readFileSync(path))).toEqual(serializeModel(source));
    const target = mlp([4, 5, 3], { seed: 2, batchNorm: true });
    loadModel(target, path);
    expect(snapshot(target)).toEqual(snapshot(source));
    expect(readModelFile(path).header.entries.map((e) => e.name)).toEqual([...source.namedParameters(), ...source.namedBuffers()].map(([n]) => n));
  });

  it('replaces an existing file and creates missing folders', () => {
    const dir = freshDir();
    const path = join(dir, 'nested', 'deeper', 'model.gscp');
    saveModel(mlp([2, 2], { seed: 1 }), path);
    const second = mlp([2, 2], { seed: 2 });
    saveModel(second, path);
    expect(new Uint8Array(readFileSync(path))).toEqual(serializeModel(second));
    expect(readdirSync(join(dir, 'nested', 'deeper'))).toEqual(['model.gscp']);
  });

  for (const [what, turnOn] of [
    ['the temporary write fails halfway', () => (inject.failWrite = true)],
    ['the rename fails', () => (inject.failRename = true)],
  ] as const) {
    it(`atomic: when ${what}, the old file stays complete and no temporary file remains`, () => {
      const dir = freshDir();
      const path = join(dir, 'model.gscp');
      const old = mlp([3, 3], { seed: 1 });
      saveModel(old, path);
      const oldBytes = new Uint8Array(readFileSync(path));
      turnOn();
      expect(() => saveModel(mlp([3, 3], { seed: 2 }), path)).toThrow(/saveModel: could not write '.*model\.gscp' \(it is unchanged\): (ENOSPC|EXDEV)/);
      inject.failWrite = false;
      inject.failRename = false;
      expect(readdirSync(dir)).toEqual(['model.gscp']);
      expect(new Uint8Array(readFileSync(path))).toEqual(oldBytes);
      const check = mlp([3, 3], { seed: 5 });
      loadModel(check, path);
      expect(snapshot(check)).toEqual(snapshot(old));
    });
  }

  it('atomic: a failure on a fresh path leaves nothing at all', () => {
    const dir = freshDir();
    inject.failWrite = true;
    expect(() => saveModel(mlp([3, 3], { seed: 2 }), join(dir, 'model.gscp'))).toThrow(/saveModel/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a real failure (the target is a folder) cleans up its temporary file', () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'model.gscp'));
    writeFileSync(join(dir, 'model.gscp', 'keep.txt'), 'x');
    expect(() => saveModel(mlp([3, 3], { seed: 2 }), join(dir, 'model.gscp'))).toThrow(/saveModel: could not write/);
    expect(readdirSync(dir)).toEqual(['model.gscp']);
    expect(readdirSync(join(dir, 'model.gscp'))).toEqual(['keep.txt']);
  });

  it('loadModel errors name the path: missing file, a folder, a corrupt or mismatched file', () => {
    const dir = freshDir();
    const model = mlp([3, 3], { seed: 1 });
    const missing = join(dir, 'nope.gscp');
    expect(() => loadModel(model, missing)).toThrow(ValueError);
    expect(() => loadModel(model, missing)).toThrow(/loadModel: cannot read '.*nope\.gscp': no such file/);
    expect(() => loadModel(model, dir)).toThrow(/loadModel: cannot read '.*': it is a directory/);
    const path = join(dir, 'model.gscp');
    saveModel(model, path);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 5));
    expect(() => loadModel(model, path)).toThrow(/loadModel: '.*model\.gscp': truncated/);
    saveModel(model, path);
    expect(() => loadModel(mlp([3, 4], { seed: 1 }), path)).toThrow(/loadModel: '.*model\.gscp': the file does not match the model/);
  });
});
