import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The console is built into dist/console and served by `gantry serve` at /console/.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  // Preact's JSX through esbuild: no Babel needed.
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 200,
  },
});
