import { afterEach, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerStudioApp, studioBuildIsCurrent, studioSourceHash } from './studioApp.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dist(withIndex = true): string {
  const d = mkdtempSync(join(tmpdir(), 'inkflow-dist-'));
  dirs.push(d);
  mkdirSync(join(d, 'assets'));
  if (withIndex) writeFileSync(join(d, 'index.html'), '<!doctype html><div id="root"></div>');
  writeFileSync(join(d, 'assets', 'index-abc.js'), 'console.log(1)');
  return d;
}

describe('registerStudioApp', () => {
  it('serves the app at / (never cached) and its hashed assets (cached for good)', async () => {
    const app = Fastify();
    await registerStudioApp(app, { distDir: dist() });
    const index = await app.inject('/');
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.headers['cache-control']).toBe('no-cache');
    const js = await app.inject('/assets/index-abc.js');
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.headers['cache-control']).toMatch(/immutable/);
    expect((await app.inject('/assets/..%2F..%2F..%2Fetc%2Fpasswd')).statusCode).toBeGreaterThanOrEqual(400);
    expect((await app.inject('/assets/missing.js')).statusCode).toBe(404);
    await app.close();
  });

  it('says the app is not built instead of a blank page', async () => {
    const app = Fastify();
    await registerStudioApp(app, { distDir: dist(false) });
    const r = await app.inject('/');
    expect(r.statusCode).toBe(503);
    expect(r.body).toMatch(/has not been built yet/);
    await app.close();
  });

  it('a build is current only with the stamp of the present sources', () => {
    const d = dist();
    expect(studioBuildIsCurrent(d)).toBe(false);
    writeFileSync(join(d, '.source-hash'), studioSourceHash());
    expect(studioBuildIsCurrent(d)).toBe(true);
    writeFileSync(join(d, '.source-hash'), 'old');
    expect(studioBuildIsCurrent(d)).toBe(false);
  });
});
