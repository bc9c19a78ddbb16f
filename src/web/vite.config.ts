// Vite config for the studio. `inkflow serve` builds with it on first start (src/server/projects/studioApp.ts);
// `npx vite --config src/web/vite.config.ts` runs a dev server that forwards the API to a running
// `inkflow serve` (INKFLOW_SERVER, default http://127.0.0.1:8188).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const server = process.env.INKFLOW_SERVER ?? 'http://127.0.0.1:8188';
const api = ['/studio', '/prompt', '/queue', '/history', '/view', '/upload', '/object_info', '/models', '/interrupt', '/system_stats'];

export default defineConfig({
  root: here,
  base: '/',
  plugins: [react()],
  build: {
    outDir: join(here, '../../dist/studio'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
    // zod's sources carry comments Rollup cannot place; the warning is noise on every start.
    rollupOptions: { onwarn: (w, warn) => void (w.code === 'INVALID_ANNOTATION' ? undefined : warn(w)) },
  },
  server: { proxy: { ...Object.fromEntries(api.map((p) => [p, server])), '/ws': { target: server, ws: true } } },
});
