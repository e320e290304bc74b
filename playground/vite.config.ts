/**
 * Vite config of the playground: `npm run playground` (dev server) and `npm run playground:build`
 * (static folder playground/dist, relative asset paths so it can be hosted under any path).
 * gradscope is imported from src/ directly; nothing in the bundle touches Node built-ins.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

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
  server: { fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] } },
});
