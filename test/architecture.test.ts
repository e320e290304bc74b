/**
 * The dependency rules of docs/design.md, checked on the source text:
 * - the core (tensor, kernels, autograd, nn, optim, analysis) imports no Node built-ins, so it
 *   can be bundled for a browser or a worker;
 * - arrows point one way: kernels know nothing of autograd, autograd nothing of GPU.js.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { OPS } from '../src/autograd/registry.js';

const src = fileURLToPath(new URL('../src/', import.meta.url));

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (dir.endsWith('.ts')) return [dir];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function imports(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]!);
}

const NODE_BUILTINS = /^(node:|fs$|path$|os$|child_process$|worker_threads$|url$|util$|crypto$|process$)/;

describe('architecture', () => {
  for (const part of ['tensor', 'kernels', 'autograd', 'nn', 'optim', 'analysis', 'data/sampler.ts', 'data/split.ts', 'data/augment.ts', 'data/synthetic.ts', 'data/dataset.ts', 'index.ts']) {
    it(`src/${part} imports no Node built-ins`, () => {
      for (const f of files(join(src, part))) {
        for (const spec of imports(f)) expect(spec, `${f} imports ${spec}`).not.toMatch(NODE_BUILTINS);
        expect(readFileSync(f, 'utf8'), `${f} uses process/require`).not.toMatch(/\bprocess\.|\brequire\(/);
      }
    });
  }

  it('kernels do not import autograd, nn or anything above', () => {
    for (const f of files(join(src, 'kernels'))) {
      for (const spec of imports(f)) expect(spec, `${f} imports ${spec}`).not.toMatch(/\/(autograd|nn|optim|analysis|experiments|cli)\//);
    }
  });

  it('autograd does not import GPU.js, nn or anything above', () => {
    for (const f of files(join(src, 'autograd'))) {
      for (const spec of imports(f)) expect(spec, `${f} imports ${spec}`).not.toMatch(/gpu\.js|\/(nn|optim|analysis|experiments|cli)\//);
    }
  });

  it('every primitive in the op table is registered under its own name', () => {
    for (const [name, op] of Object.entries(OPS)) expect(op.name).toBe(name);
  });

  it('every primitive file states its math in a leading doc comment', () => {
    for (const f of files(join(src, 'autograd', 'ops')).filter((f) => !f.endsWith('_kernels.ts'))) {
      expect(readFileSync(f, 'utf8'), f).toMatch(/^\/\*\*[\s\S]*?(d\/d|∂|ᵀ)[\s\S]*?\*\//);
    }
  });
});
