/**
 * Every ```ts block of README.md and of docs/*.md type-checks under `strict`: the blocks are
 * written as modules next to the repository (imports of 'gradscope', 'gradscope/io' and
 * 'gradscope/data' mapped to src/) and compiled with the TypeScript API. Unused names are
 * allowed (a README shows values without using them); everything `strict` checks is not.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The ```ts blocks of a markdown text, with the line each starts on. */
export function tsBlocks(markdown: string): { line: number; code: string }[] {
  const blocks: { line: number; code: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** Type errors of each block, as `README.md:<line>: <message>` (or the block's own source name) (empty when it type-checks). */
export function typeErrors(blocks: readonly { line: number; code: string; source?: string }[], dir: string): string[] {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = blocks.map((b, i) => {
    const file = join(dir, `block-${i}.ts`);
    // `export {}` keeps a block without imports a module, so blocks do not share names.
    writeFileSync(file, `${b.code}\nexport {};\n`);
    return file;
  });
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (!config) throw new Error('readme-types: cannot read tsconfig.json');
  const options: ts.CompilerOptions = {
    ...config.options,
    strict: true,
    noEmit: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
    declaration: false,
    sourceMap: false,
    rootDir: undefined,
    paths: {
      gradscope: [join(root, 'src/index.ts')],
      'gradscope/io': [join(root, 'src/io/index.ts')],
      'gradscope/data': [join(root, 'src/data/index.ts')],
      'gradscope/gpu': [join(root, 'src/gpu/index.ts')],
    },
  };
  const program = ts.createProgram(files, options);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && files.includes(d.file.fileName))
    .map((d) => {
      const index = files.indexOf(d.file!.fileName);
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      return `${blocks[index]!.source ?? 'README.md'}:${blocks[index]!.line + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
}

/** The ```ts blocks of README.md and docs/*.md, each named by its file. */
function documentationBlocks(): { source: string; line: number; code: string }[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs].flatMap((source) => tsBlocks(readFileSync(join(root, source), 'utf8')).map((b) => ({ source, ...b })));
}

describe('README and docs ```ts blocks under strict', () => {
  const blocks = documentationBlocks();
  // One compilation (≈ 10 s) for the blocks and one broken block that proves the check can fail.
  const broken = { source: 'broken.md', line: 1, code: "import { grad, tensor } from 'gradscope';\nconst f = (a, b) => a.mul(b);\ngrad((x) => x.pwo(3))(tensor([1]));" };
  let errors: string[] = [];
  beforeAll(() => {
    errors = typeErrors([...blocks, broken], join(root, 'node_modules/.cache/gradscope-readme-types'));
  }, 60_000);

  it('there are blocks to check', () => {
    expect(blocks.filter((b) => b.source === 'README.md').length).toBeGreaterThanOrEqual(4);
  });

  it('every block type-checks', () => {
    const fromReadme = errors.filter((e) => !e.startsWith('broken.md:'));
    expect(fromReadme, fromReadme.join('\n')).toEqual([]);
  });

  it('the check can fail: a block with a type error is reported at its line', () => {
    expect(errors.some((e) => /^broken\.md:2: Parameter 'a' implicitly has an 'any' type/.test(e)), errors.join('\n')).toBe(true);
    expect(errors.some((e) => /^broken\.md:3: Property 'pwo' does not exist on type 'Tensor'/.test(e)), errors.join('\n')).toBe(true);
  });
});
