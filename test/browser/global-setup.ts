/**
 * Global setup of the browser tests: checks that the playground was built and that Chromium
 * exists, then serves playground/dist with a tiny static server on a free port (no Vite
 * process, no network beyond localhost). The URL reaches the tests through `provide`.
 * It sends the cross-origin-isolation headers, as playground/vite.config.ts does, so that the
 * tests can switch on the worker's wasm threads.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { findChromium, NO_CHROMIUM_MESSAGE } from './chromium.js';

const dist = resolve(fileURLToPath(new URL('../../playground/dist/', import.meta.url)));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** COOP + COEP: the page is `crossOriginIsolated`, so its worker may share memory with threads. */
const CROSS_ORIGIN_ISOLATION = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
};

let server: Server | null = null;

export async function setup(project: TestProject): Promise<void> {
  if (!findChromium()) throw new Error(NO_CHROMIUM_MESSAGE);
  if (!existsSync(join(dist, 'index.html'))) throw new Error('playground/dist/index.html is missing: run `npm run playground:build` first (npm run test:browser does)');
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    let file = normalize(join(dist, path));
    if (!file.startsWith(dist)) {
      res.writeHead(403).end();
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store', ...CROSS_ORIGIN_ISOLATION });
    res.end(readFileSync(file));
  });
  await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('static server: no port');
  project.provide('baseUrl', `http://127.0.0.1:${address.port}/`);
}

export async function teardown(): Promise<void> {
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
}

declare module 'vitest' {
  export interface ProvidedContext {
    baseUrl: string;
  }
}
