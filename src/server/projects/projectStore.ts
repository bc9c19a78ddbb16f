// Comic projects as SQLite rows: one row per project holding the validated JSON document and a revision
// number. A save names the revision it was based on, so two tabs editing one comic cannot silently
// overwrite each other (the second gets a conflict, not a lost page). Pictures are files (assetStore.ts).
import type Database from 'better-sqlite3';
import type { Comic } from '../../web/project/schema.ts';
import { parseComic } from '../../web/project/schema.ts';

export interface ProjectSummary {
  id: string;
  title: string;
  pages: number;
  revision: number;
  createdAt: string;
  updatedAt: string;
}

export type LoadedProject =
  | { ok: true; comic: Comic; revision: number }
  | { ok: false; reason: 'missing' }
  | { ok: false; reason: 'damaged'; problems: string[]; raw: string; revision: number };

export type SaveResult = { ok: true; revision: number } | { ok: false; reason: 'missing' } | { ok: false; reason: 'conflict'; revision: number };

interface Row {
  id: string;
  title: string;
  pages: number;
  revision: number;
  created_at: string;
  updated_at: string;
  doc: string;
}

export interface ProjectStore {
  list(): ProjectSummary[];
  create(comic: Comic): ProjectSummary;
  load(id: string): LoadedProject;
  save(comic: Comic, baseRevision: number): SaveResult;
  remove(id: string): boolean;
}

/** Creates the table if needed (the server's database may hold other tables) and returns the store. */
export function openProjectStore(db: Database.Database): ProjectStore {
  db.exec(`CREATE TABLE IF NOT EXISTS studio_projects (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    pages INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    doc TEXT NOT NULL
  )`);
  const listStmt = db.prepare<[], Row>('SELECT id, title, pages, revision, created_at, updated_at FROM studio_projects ORDER BY updated_at DESC');
  const getStmt = db.prepare<[string], Row>('SELECT * FROM studio_projects WHERE id = ?');
  const insertStmt = db.prepare('INSERT INTO studio_projects (id, title, pages, revision, created_at, updated_at, doc) VALUES (?, ?, ?, 1, ?, ?, ?)');
  const updateStmt = db.prepare('UPDATE studio_projects SET title = ?, pages = ?, revision = revision + 1, updated_at = ?, doc = ? WHERE id = ? AND revision = ?');
  const revisionStmt = db.prepare<[string], { revision: number }>('SELECT revision FROM studio_projects WHERE id = ?');
  const deleteStmt = db.prepare('DELETE FROM studio_projects WHERE id = ?');

  const summary = (r: Row): ProjectSummary => ({ id: r.id, title: r.title, pages: r.pages, revision: r.revision, createdAt: r.created_at, updatedAt: r.updated_at });

  return {
    list: () => listStmt.all().map(summary),
    create(comic) {
      const now = new Date().toISOString();
      insertStmt.run(comic.id, comic.title, comic.pages.length, now, now, JSON.stringify(comic));
      return summary(getStmt.get(comic.id)!);
    },
    load(id) {
      const row = getStmt.get(id);
      if (!row) return { ok: false, reason: 'missing' };
      let value: unknown;
      try {
        value = JSON.parse(row.doc);
      } catch (e) {
        return { ok: false, reason: 'damaged', problems: [`the stored document is not valid JSON (${(e as Error).message})`], raw: row.doc, revision: row.revision };
      }
      const parsed = parseComic(value);
      if (!parsed.ok) return { ok: false, reason: 'damaged', problems: parsed.problems, raw: row.doc, revision: row.revision };
      return { ok: true, comic: parsed.comic, revision: row.revision };
    },
    save(comic, baseRevision) {
      const now = new Date().toISOString();
      // One statement checks the revision and writes, so there is no window between check and write.
      const r = updateStmt.run(comic.title, comic.pages.length, now, JSON.stringify(comic), comic.id, baseRevision);
      if (r.changes === 1) return { ok: true, revision: baseRevision + 1 };
      const current = revisionStmt.get(comic.id);
      return current ? { ok: false, reason: 'conflict', revision: current.revision } : { ok: false, reason: 'missing' };
    },
    remove: (id) => deleteStmt.run(id).changes === 1,
  };
}
