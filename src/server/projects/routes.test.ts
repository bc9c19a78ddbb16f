import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerProjectRoutes } from './routes.ts';
import { newBubble, newPage } from '../../web/project/newDocument.ts';
import type { Comic } from '../../web/project/schema.ts';

let app: FastifyInstance;
let db: Database.Database;
let dataDir: string;

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'inkflow-projects-'));
  db = new Database(':memory:');
  app = Fastify();
  await registerProjectRoutes(app, { db, dataDir, maxAssetBytes: 1 << 20 });
  await app.ready();
});
afterEach(async () => {
  await app.close();
  db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const png = (r: number) => sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g: 0, b: 0 } } }).png().toBuffer();

async function create(title = 'My comic'): Promise<{ comic: Comic; revision: number }> {
  const res = await app.inject({ method: 'POST', url: '/studio/projects', payload: { title } });
  expect(res.statusCode).toBe(201);
  return res.json();
}

async function upload(id: string, bytes: Buffer, type = 'image/png') {
  return app.inject({ method: 'POST', url: `/studio/projects/${id}/assets`, payload: bytes, headers: { 'content-type': type } });
}

describe('project routes', () => {
  it('creates, lists, saves and reloads a comic with a picture', async () => {
    const { comic, revision } = await create();
    expect((await app.inject('/studio/projects')).json().projects.map((p: { id: string }) => p.id)).toEqual([comic.id]);

    const bytes = await png(200);
    const up = await upload(comic.id, bytes);
    expect(up.statusCode).toBe(201);
    const name: string = up.json().name;
    expect(name).toMatch(/^[a-f0-9]{64}\.png$/);
    expect((await upload(comic.id, bytes)).json().name).toBe(name); // same bytes, same file

    const page = newPage('A4', '3');
    page.panels[0].layers.push({ id: 'layer-a', kind: 'generated', asset: name, visible: true, opacity: 1, blend: 'normal' });
    page.bubbles.push(newBubble('oval', 60, 60, 'Hi there'));
    const edited = { ...comic, pages: [page] };
    const saved = await app.inject({ method: 'PUT', url: `/studio/projects/${comic.id}`, payload: { comic: edited, baseRevision: revision } });
    expect(saved.statusCode).toBe(200);
    expect(saved.json().revision).toBe(revision + 1);

    const loaded = await app.inject(`/studio/projects/${comic.id}`);
    expect(loaded.json()).toEqual({ comic: edited, revision: revision + 1 });
    const pic = await app.inject(`/studio/projects/${comic.id}/assets/${name}`);
    expect(pic.headers['content-type']).toBe('image/png');
    expect(Buffer.compare(pic.rawPayload, bytes)).toBe(0);
  });

  it('refuses a stale save (another tab saved first) with 409 and keeps the newer comic', async () => {
    const { comic, revision } = await create();
    const a = await app.inject({ method: 'PUT', url: `/studio/projects/${comic.id}`, payload: { comic: { ...comic, title: 'A' }, baseRevision: revision } });
    expect(a.statusCode).toBe(200);
    const b = await app.inject({ method: 'PUT', url: `/studio/projects/${comic.id}`, payload: { comic: { ...comic, title: 'B' }, baseRevision: revision } });
    expect(b.statusCode).toBe(409);
    expect(b.json().error).toMatch(/changed somewhere else/);
    expect((await app.inject(`/studio/projects/${comic.id}`)).json().comic.title).toBe('A');
  });

  it('refuses invalid documents, unknown pictures and non-pictures in words', async () => {
    const { comic, revision } = await create();
    const bad = await app.inject({ method: 'PUT', url: `/studio/projects/${comic.id}`, payload: { comic: { ...comic, pages: [{ id: 'x' }] }, baseRevision: revision } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/not valid/);
    expect(bad.json().problems[0]).toMatch(/^page 1, /);

    const page = newPage('A4', '1');
    page.panels[0].layers.push({ id: 'layer-a', kind: 'generated', asset: `${'0'.repeat(64)}.png`, visible: true, opacity: 1, blend: 'normal' });
    const ghost = await app.inject({ method: 'PUT', url: `/studio/projects/${comic.id}`, payload: { comic: { ...comic, pages: [page] }, baseRevision: revision } });
    expect(ghost.statusCode).toBe(400);
    expect(ghost.json().error).toMatch(/never uploaded/);

    const text = await upload(comic.id, Buffer.from('<svg>not allowed</svg>'), 'image/svg+xml');
    expect(text.statusCode).toBe(415);
    expect(text.json().error).toMatch(/only PNG, JPEG or WebP/);
    expect((await app.inject(`/studio/projects/${comic.id}/assets/..%2F..%2Fetc%2Fpasswd`)).statusCode).toBe(404);
    expect((await app.inject('/studio/projects/..%2Fx')).statusCode).toBe(400);
  });

  it('reports a damaged stored project with its problems (and still offers the raw text) instead of failing blank', async () => {
    const { comic } = await create();
    db.prepare('UPDATE studio_projects SET doc = ? WHERE id = ?').run(JSON.stringify({ ...comic, pages: 'lost' }), comic.id);
    const r = await app.inject(`/studio/projects/${comic.id}`);
    expect(r.statusCode).toBe(422);
    expect(r.json().error).toMatch(/damaged/);
    expect(r.json().problems[0]).toMatch(/^pages:/);
    expect((await app.inject(`/studio/projects/${comic.id}/raw`)).body).toContain('"lost"');
    db.prepare('UPDATE studio_projects SET doc = ? WHERE id = ?').run('{"format": "inkflow-comic", ', comic.id);
    expect((await app.inject(`/studio/projects/${comic.id}`)).json().problems[0]).toMatch(/not valid JSON/);
  });

  it('exports a bundle and imports it as a new project with its pictures; broken bundles are refused whole', async () => {
    const { comic, revision } = await create('Round trip');
    const name = (await upload(comic.id, await png(10))).json().name;
    const withSheet = { ...comic, characters: [{ id: 'char-1', name: 'Mika', sheets: [name], promptSnippet: 'red scarf', lora: null, seed: 7, palette: ['#aa0000'] }] };
    await app.inject({ method: 'PUT', url: `/studio/projects/${comic.id}`, payload: { comic: withSheet, baseRevision: revision } });
    const bundle = (await app.inject(`/studio/projects/${comic.id}/bundle`)).json();
    expect(Object.keys(bundle.assets)).toEqual([name]);

    const imported = await app.inject({ method: 'POST', url: '/studio/projects/import', payload: bundle });
    expect(imported.statusCode).toBe(201);
    const copy = imported.json().comic as Comic;
    expect(copy.id).not.toBe(comic.id);
    expect(copy.characters).toEqual(withSheet.characters);
    expect((await app.inject(`/studio/projects/${copy.id}/assets/${name}`)).statusCode).toBe(200);

    const tampered = { ...bundle, assets: { [name]: (await png(99)).toString('base64') } };
    const bad = await app.inject({ method: 'POST', url: '/studio/projects/import', payload: tampered });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/damaged/);
    const missing = await app.inject({ method: 'POST', url: '/studio/projects/import', payload: { ...bundle, assets: {} } });
    expect(missing.json().error).toMatch(/not inside it/);
    const notComic = await app.inject({ method: 'POST', url: '/studio/projects/import', payload: { hello: 1 } });
    expect(notComic.json().problems[0]).toMatch(/not an inkflow comic/);
    expect((await app.inject('/studio/projects')).json().projects).toHaveLength(2);
    expect(readdirSync(join(dataDir, 'projects')).sort()).toEqual([comic.id, copy.id].sort());
  });

  it('deletes a project and its pictures', async () => {
    const { comic } = await create();
    await upload(comic.id, await png(1));
    expect((await app.inject({ method: 'DELETE', url: `/studio/projects/${comic.id}` })).statusCode).toBe(204);
    expect((await app.inject(`/studio/projects/${comic.id}`)).statusCode).toBe(404);
    expect(readdirSync(join(dataDir, 'projects'))).toEqual([]);
  });
});
