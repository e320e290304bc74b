/**
 * Vite config of the playground: `npm run playground` (dev server) and `npm run playground:build`
 * (static folder playground/dist, relative asset paths so it can be hosted under any path).
 * gradscope is imported from src/ directly; nothing in the bundle touches Node built-ins.
 *
 * Both servers send the two headers that make the page cross-origin isolated (COOP + COEP):
 * only then may the worker share WebAssembly memory with threads of its own (the opt-in
 * "2 threads" control). The page loads nothing from other origins, so COEP blocks nothing.
 * A host of playground/dist must send them too, or the control stays disabled.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

const CROSS_ORIGIN_ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root,
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
  },
  worker: { format: 'es' },
  server: { headers: CROSS_ORIGIN_ISOLATION, fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] } },
  preview: { headers: CROSS_ORIGIN_ISOLATION },
});
