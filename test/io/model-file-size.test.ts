/**
 * Model-file readers look before they read (issue 14, D13–D21): `loadModel('/dev/zero')` used
 * to grow without bound. Now the path must be a regular file whose size (fstat) is exactly
 * what its header describes; everything else is refused, naming the path, without reading it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, ftruncateSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, readModelFile, saveModel } from '../../src/io/model-file.js';
import { mlp } from '../../src/nn/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'gradscope-model-size-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('model files: header and fstat before the payload', () => {
  it('refuses /dev/zero and a FIFO at once, naming the path', () => {
    const model = mlp([3, 2], { seed: 1 });
    expect(() => loadModel(model, '/dev/zero')).toThrow(/^loadModel: cannot read '\/dev\/zero': not a regular file/);
    const fifo = join(tmp, 'fifo.gscp');
    execFileSync('mkfifo', [fifo]);
    expect(() => readModelFile(fifo)).toThrow(/^readModelFile: cannot read '.*fifo\.gscp': not a regular file/);
  });

  it('refuses a (sparse) 3 GB file whose header describes a few hundred bytes, without reading it', () => {
    const model = mlp([3, 2], { seed: 1 });
    const path = join(tmp, 'huge.gscp');
    saveModel(model, path);
    const real = readFileSync(path).length;
    const fd = openSync(path, 'r+');
    ftruncateSync(fd, 3 * 2 ** 30); // holes: no disk space, but Node's readFileSync would refuse > 2 GiB
    closeSync(fd);
    const t0 = performance.now();
    expect(() => loadModel(model, path)).toThrow(
      new RegExp(`^loadModel: '.*huge\\.gscp': ${3 * 2 ** 30 - real} unexpected bytes after the payload \\(the header describes ${real} bytes`),
    );
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('a file cut inside its header is refused by the size check, naming the path', () => {
    const model = mlp([3, 2], { seed: 1 });
    const path = join(tmp, 'cut.gscp');
    saveModel(model, path);
    writeFileSync(path, readFileSync(path).subarray(0, 40));
    expect(() => loadModel(model, path)).toThrow(/^loadModel: '.*cut\.gscp': truncated: the header needs \d+ bytes; the file has 40/);
    saveModel(model, path);
    loadModel(mlp([3, 2], { seed: 2 }), path); // an intact file still loads
  });
});
