// The studio's project API as a self-contained Fastify plugin. Routes live under /studio/ so they never
// shadow the ComfyUI routes (/prompt, /view, /api/…) the same server answers. Every error is a JSON body
// `{ error, problems? }` whose `error` is a sentence the studio shows as it is.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type Database from 'better-sqlite3';
import type { Comic } from '../../web/project/schema.ts';
import { assetsOf, parseComic } from '../../web/project/schema.ts';
import { newComic, newId } from '../../web/project/newDocument.ts';
import { openProjectStore } from './projectStore.ts';
import { ASSET_TYPES, NotAPictureError, openAssetStore } from './assetStore.ts';
import type { AssetExt } from './assetStore.ts';

export interface ProjectRoutesOptions {
  db: Database.Database;
  /** Pictures go to <dataDir>/projects/<projectId>/. */
  dataDir: string;
  /** Largest picture upload in bytes (default 64 MB). */
  maxAssetBytes?: number;
  /** Largest import bundle in bytes (default 512 MB: a comic with its pictures, base64). */
  maxImportBytes?: number;
}

export const BUNDLE_FORMAT = 'inkflow-comic-bundle';

const ID = /^[A-Za-z0-9_-]{1,64}$/;

function fail(reply: FastifyReply, status: number, error: string, problems?: string[]): FastifyReply {
  return reply.code(status).send(problems ? { error, problems } : { error });
}

export async function registerProjectRoutes(app: FastifyInstance, opts: ProjectRoutesOptions): Promise<void> {
  const projects = openProjectStore(opts.db);
  const assets = openAssetStore(opts.dataDir);
  const maxAssetBytes = opts.maxAssetBytes ?? 64 * 1024 * 1024;
  const maxImportBytes = opts.maxImportBytes ?? 512 * 1024 * 1024;

  const missingAssets = (c: Comic): string[] => assetsOf(c).filter((n) => !assets.path(c.id, n));

  /** The :id parameter, or a 400 already sent. */
  const projectId = (params: unknown, reply: FastifyReply): string | null => {
    const id = (params as { id?: string }).id ?? '';
    if (ID.test(id)) return id;
    fail(reply, 400, 'that is not a project id');
    return null;
  };

  await app.register(async (json) => {
    json.get('/studio/projects', async () => ({ projects: projects.list() }));

    json.post('/studio/projects', async (req, reply) => {
      const title = String((req.body as { title?: unknown } | null)?.title ?? '').trim() || 'Untitled comic';
      if (title.length > 200) return fail(reply, 400, 'a title can be at most 200 characters');
      const comic = newComic(title);
      const s = projects.create(comic);
      return reply.code(201).send({ comic, revision: s.revision });
    });

    json.get('/studio/projects/:id', async (req, reply) => {
      const id = projectId(req.params, reply);
      if (!id) return reply;
      const r = projects.load(id);
      if (r.ok) return { comic: r.comic, revision: r.revision };
      if (r.reason === 'missing') return fail(reply, 404, 'there is no such project (it may have been deleted)');
      return fail(reply, 422, 'this project is damaged and cannot be opened', r.problems);
    });

    // The stored text as it is, so a damaged project can still be downloaded and repaired by hand.
    json.get('/studio/projects/:id/raw', async (req, reply) => {
      const id = projectId(req.params, reply);
      if (!id) return reply;
      const r = projects.load(id);
      if (!r.ok && r.reason === 'missing') return fail(reply, 404, 'there is no such project');
      const text = r.ok ? JSON.stringify(r.comic, null, 2) : r.raw;
      return reply.type('application/json').header('content-disposition', `attachment; filename="${id}.json"`).send(text);
    });

    json.put('/studio/projects/:id', { bodyLimit: 32 * 1024 * 1024 }, async (req, reply) => {
      const id = projectId(req.params, reply);
      if (!id) return reply;
      const body = req.body as { comic?: unknown; baseRevision?: unknown } | null;
      const baseRevision = body?.baseRevision;
      if (typeof baseRevision !== 'number' || !Number.isInteger(baseRevision)) return fail(reply, 400, 'a save must say which revision it was based on (baseRevision)');
      const parsed = parseComic(body?.comic);
      if (!parsed.ok) return fail(reply, 400, 'the comic was not saved because it is not valid', parsed.problems);
      if (parsed.comic.id !== id) return fail(reply, 400, `the comic's id ${parsed.comic.id} does not match the project ${id}`);
      const missing = missingAssets(parsed.comic);
      if (missing.length) return fail(reply, 400, `the comic was not saved: ${missing.length} picture(s) it uses were never uploaded`, missing.slice(0, 10));
      const r = projects.save(parsed.comic, baseRevision);
      if (r.ok) return { revision: r.revision };
      if (r.reason === 'missing') return fail(reply, 404, 'there is no such project (it may have been deleted)');
      return reply.code(409).send({ error: 'this comic was changed somewhere else (another tab or window) since it was opened here', revision: r.revision });
    });

    json.delete('/studio/projects/:id', async (req, reply) => {
      const id = projectId(req.params, reply);
      if (!id) return reply;
      if (!projects.remove(id)) return fail(reply, 404, 'there is no such project');
      assets.removeProject(id);
      return reply.code(204).send();
    });

    json.get('/studio/projects/:id/assets/:name', async (req, reply) => {
      const id = projectId(req.params, reply);
      if (!id) return reply;
      const name = (req.params as { name: string }).name;
      const bytes = assets.read(id, name);
      if (!bytes) return fail(reply, 404, 'this picture is not part of the project');
      const ext = name.slice(name.lastIndexOf('.') + 1) as AssetExt;
      // Names are content hashes: the bytes behind one never change.
      return reply.type(ASSET_TYPES[ext]).header('cache-control', 'public, max-age=31536000, immutable').send(bytes);
    });

    // A whole comic with its pictures in one JSON file, to move it to another machine or keep a backup.
    json.get('/studio/projects/:id/bundle', async (req, reply) => {
      const id = projectId(req.params, reply);
      if (!id) return reply;
      const r = projects.load(id);
      if (!r.ok) return fail(reply, r.reason === 'missing' ? 404 : 422, r.reason === 'missing' ? 'there is no such project' : 'this project is damaged', r.ok === false && r.reason === 'damaged' ? r.problems : undefined);
      const files: Record<string, string> = {};
      for (const n of assetsOf(r.comic)) {
        const b = assets.read(id, n);
        if (b) files[n] = b.toString('base64');
      }
      const safeTitle = r.comic.title.replace(/[^A-Za-z0-9 _-]+/g, '').trim().slice(0, 60) || 'comic';
      return reply
        .type('application/json')
        .header('content-disposition', `attachment; filename="${safeTitle}.inkflow.json"`)
        .send(JSON.stringify({ format: BUNDLE_FORMAT, comic: r.comic, assets: files }));
    });

    json.post('/studio/projects/import', { bodyLimit: maxImportBytes }, async (req, reply) => {
      const body = req.body as { format?: unknown; comic?: unknown; assets?: unknown } | null;
      const isBundle = body?.format === BUNDLE_FORMAT;
      const parsed = parseComic(isBundle ? body?.comic : body);
      if (!parsed.ok) return fail(reply, 400, 'this file cannot be opened as a comic', parsed.problems);
      // An imported comic gets a new id, so importing the same file twice gives two projects, never a merge.
      const comic: Comic = { ...parsed.comic, id: newId('comic') };
      const files = isBundle && body?.assets && typeof body.assets === 'object' ? (body.assets as Record<string, unknown>) : {};
      const needed = assetsOf(comic);
      const absent = needed.filter((n) => typeof files[n] !== 'string');
      if (absent.length) return fail(reply, 400, `this file cannot be opened: ${absent.length} picture(s) the comic uses are not inside it`, absent.slice(0, 10));
      for (const n of needed) {
        const bytes = Buffer.from(files[n] as string, 'base64');
        let stored: string;
        try {
          stored = assets.put(comic.id, bytes);
        } catch (e) {
          assets.removeProject(comic.id);
          if (e instanceof NotAPictureError) return fail(reply, 400, `this file cannot be opened: ${n} is not a picture`);
          throw e;
        }
        if (stored !== n) {
          assets.removeProject(comic.id);
          return fail(reply, 400, `this file cannot be opened: the picture ${n} is damaged (its bytes do not match its name)`);
        }
      }
      const s = projects.create(comic);
      return reply.code(201).send({ comic, revision: s.revision });
    });
  });

  // Picture uploads are raw bytes (Content-Type image/png, image/jpeg or image/webp); this scope has its
  // own body parser so it cannot clash with multipart parsing the ComfyUI routes may register.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxAssetBytes }, (_req, body, done) => done(null, body));
    raw.post('/studio/projects/:id/assets', async (req, reply) => {
      const id = projectId(req.params, reply);
      if (!id) return reply;
      const r = projects.load(id);
      if (!r.ok && r.reason === 'missing') return fail(reply, 404, 'there is no such project (it may have been deleted)');
      if (!Buffer.isBuffer(req.body) || req.body.length === 0) return fail(reply, 400, 'the upload was empty: send the picture\'s bytes');
      try {
        return reply.code(201).send({ name: assets.put(id, req.body) });
      } catch (e) {
        if (e instanceof NotAPictureError) return fail(reply, 415, e.message);
        throw e;
      }
    });
  });
}
