/**
 * `npm run build`: the engine (ESM + CommonJS) and then the lab, from clean output folders.
 *
 * 1. tsc: src/ → dist/ (ESM .js and .d.ts with their doc comments), then esbuild reprints each
 *    .js as ESM with two-space indentation: the same program, a third smaller (the installed
 *    engine has a 3 MiB budget, test/consumer/run.mjs). No source maps: they would not survive
 *    the reprint, and the package does not ship them.
 *    The .d.ts files that no entry point's declarations reach (a kernel's, an op's) are deleted:
 *    the package's exports map lets nobody import them, and they were 97 KB of each copy.
 * 2. esbuild: each dist/*.js → dist/cjs/*.js as CommonJS, one file per module (not a bundle, so
 *    `require('gradscope')` and `require('gradscope/data')` share one copy of every module, and
 *    instanceof and the backend registry work across entry points). The .d.ts files are copied
 *    beside them, and dist/cjs/package.json says "commonjs", so Node and TypeScript read that
 *    folder as CommonJS.
 * 3. tsc: packages/lab/src → packages/lab/dist, against the engine's declarations in dist/
 *    (the lab imports 'gradscope' by name, as an installed copy would).
 *
 * Output folders are emptied first, so a file deleted from src/ never lingers in a package.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const cjs = join(dist, 'cjs');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

function files(dir, skip) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (path === skip) return [];
    return e.isDirectory() ? files(path, skip) : [path];
  });
}

rmSync(dist, { recursive: true, force: true });
rmSync(join(root, 'packages', 'lab', 'dist'), { recursive: true, force: true });

execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

/** The .d.ts files the entry points' declarations import, directly or through others. */
function reachableDeclarations() {
  const { exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const pending = Object.values(exports).flatMap((e) => (e.import ? [join(root, e.import.types)] : []));
  const reached = new Set();
  while (pending.length > 0) {
    const file = pending.pop();
    if (reached.has(file)) continue;
    reached.add(file);
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from\s*|import\s*\(\s*)["'](\.[^"']+)\.js["']/g)) {
      pending.push(join(dirname(file), `${specifier}.d.ts`));
    }
  }
  return reached;
}

const declarations = reachableDeclarations();
for (const file of files(dist, cjs)) if (file.endsWith('.d.ts') && !declarations.has(file)) rmSync(file);

for (const file of files(dist, cjs)) {
  if (!file.endsWith('.js')) continue;
  const { code } = transformSync(readFileSync(file, 'utf8'), { format: 'esm', target: 'node20', sourcefile: relative(root, file) });
  writeFileSync(file, code);
}

for (const file of files(dist, cjs)) {
  const out = join(cjs, relative(dist, file));
  if (file.endsWith('.d.ts')) {
    mkdirSync(dirname(out), { recursive: true });
    copyFileSync(file, out);
  } else if (file.endsWith('.js')) {
    const { code } = transformSync(readFileSync(file, 'utf8'), {
      format: 'cjs',
      target: 'node20',
      sourcefile: relative(root, file),
      // images.ts reads import.meta.url ?? __filename: CommonJS has only the latter.
      logOverride: { 'empty-import-meta': 'silent' },
    });
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, code);
  }
}
writeFileSync(join(cjs, 'package.json'), '{ "type": "commonjs" }\n');

execFileSync(process.execPath, [tsc, '-p', join(root, 'packages', 'lab', 'tsconfig.json')], { stdio: 'inherit' });
