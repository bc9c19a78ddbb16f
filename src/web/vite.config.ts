// Vite config for the studio. `inkflow serve` builds with it on first start (src/server/projects/studioApp.ts);
// `npx vite --config src/web/vite.config.ts` runs a dev server that forwards the API to a running
// `inkflow serve` (INKFLOW_SERVER, default http://127.0.0.1:8188).
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const server = process.env.INKFLOW_SERVER ?? 'http://127.0.0.1:8188';
const api = ['/studio', '/prompt', '/queue', '/history', '/view', '/upload', '/object_info', '/models', '/interrupt', '/system_stats'];

/**
 * A dependency the studio can do without: when it is not installed, importing it gives `null` instead of
 * failing the build, and the feature says what is missing (CJK text in PDFs falls back to pixels).
 */
function optionalDependency(name: string): Plugin {
  const missing = `\0missing:${name}`;
  return {
    name: `optional:${name}`,
    async resolveId(id, importer) {
      if (id !== name) return null;
      return (await this.resolve(id, importer, { skipSelf: true })) ?? missing;
    },
    load: (id) => (id === missing ? 'export default null;' : null),
  };
}

export default defineConfig({
  root: here,
  base: '/',
  plugins: [react(), optionalDependency('@pdf-lib/fontkit')],
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
