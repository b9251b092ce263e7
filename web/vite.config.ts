// The console is built into dist/web and served by the server at /console/ (src/http/plugins/console.ts).
// src/client (the same Phase protocol client as the CLI) imports the crypto module bound to
// sodium-native; in the browser that import is pointed at the WASM binding in src/crypto-binding.ts.
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  base: '/console/',
  plugins: [react()],
  resolve: {
    alias: [{ find: /^\.\.\/crypto\/index\.js$/, replacement: here('./src/crypto-binding.ts') }],
  },
  worker: { format: 'es' },
  build: {
    outDir: here('../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    // libsodium's WASM build is one large module; splitting it buys nothing here.
    chunkSizeWarningLimit: 4096,
  },
});
