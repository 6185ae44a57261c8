import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The dashboard build: static files in web/dist that the server serves at `/`. The client is taken
 * from its browser entry (no Node-only module), from source, so the build never needs its dist.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  resolve: {
    alias: [
      {
        find: /^@tooken\/client$/,
        replacement: fileURLToPath(new URL('../packages/client/src/browser.ts', import.meta.url)),
      },
      // Radix's scroll lock writes a <style> element the page's policy refuses: see ui/remove-scroll.tsx.
      {
        find: /^react-remove-scroll$/,
        replacement: fileURLToPath(new URL('src/ui/remove-scroll.tsx', import.meta.url)),
      },
    ],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Everything is a file of its own: the page's policy allows no inline script or style.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    target: 'es2022',
  },
});
