// A real server for the studio's browser tests: the projects plugin and the built app on a free port,
// plus — when the ComfyUI-compatible API is given — the generation routes. Data lives in a temp folder.
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerStudio } from '../../src/server/projects/index.ts';

export interface StudioServer {
  url: string;
  app: FastifyInstance;
  db: Database.Database;
  dataDir: string;
  close(): Promise<void>;
}

export async function startStudioServer(opts: { extra?: (app: FastifyInstance) => Promise<void>; cjkFonts?: readonly { path: string; pkg: string }[] } = {}): Promise<StudioServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'inkflow-studio-'));
  const db = new Database(join(dataDir, 'studio.sqlite'));
  const app = Fastify({ bodyLimit: 64 * 1024 * 1024 });
  await opts.extra?.(app);
  await registerStudio(app, { db, dataDir, log: (l) => console.log(l), cjkFonts: opts.cjkFonts });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: address,
    app,
    db,
    dataDir,
    async close() {
      await app.close();
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
