// One call that adds the whole studio to a Fastify server: the project API under /studio/ and the built
// web app at `/` (built first if missing or stale). `inkflow serve` calls this after its ComfyUI routes.
import type { FastifyInstance } from 'fastify';
import type Database from 'better-sqlite3';
import { registerProjectRoutes } from './routes.ts';
import { registerFontRoutes } from './fontRoutes.ts';
import { ensureStudioBuilt, registerStudioApp } from './studioApp.ts';

export { registerProjectRoutes } from './routes.ts';
export { registerFontRoutes, findCjkFont, CJK_FONT_CANDIDATES } from './fontRoutes.ts';
export { ensureStudioBuilt, registerStudioApp, studioBuildIsCurrent, DEFAULT_STUDIO_DIST } from './studioApp.ts';

export interface StudioOptions {
  /** The server's SQLite database; the studio adds its own table (studio_projects). */
  db: Database.Database;
  /** The data folder: project pictures go to <dataDir>/projects/. */
  dataDir: string;
  /** Where the built app lives (default <repo>/dist/studio). */
  distDir?: string;
  log?: (line: string) => void;
  /** Where to look for the CJK font PDFs embed (default: the Debian packages' paths; [] = none). */
  cjkFonts?: readonly { path: string; pkg: string }[];
}

export async function registerStudio(app: FastifyInstance, opts: StudioOptions): Promise<void> {
  await ensureStudioBuilt({ distDir: opts.distDir, log: opts.log });
  await registerProjectRoutes(app, { db: opts.db, dataDir: opts.dataDir });
  await registerFontRoutes(app, { candidates: opts.cjkFonts });
  await registerStudioApp(app, { distDir: opts.distDir });
}
