// Serves the built studio (a Vite build of src/web) at `/`, and builds it when it is missing or older
// than its sources — so a fresh clone needs no build step of its own: `inkflow serve` does it on the
// first start. The build writes to a temporary folder and is renamed into place, so a server that is
// reading the old build, or a second server building at the same time, never sees half a build.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { resolveInside } from '../../files/safePath.ts';
import { readFileLimited } from '../../files/readLimited.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const STUDIO_SOURCE_DIR = join(repoRoot, 'src/web');
export const DEFAULT_STUDIO_DIST = join(repoRoot, 'dist/studio');
const STAMP = '.source-hash';
/** Packages the app builds without (vite.config.ts's optionalDependency): installing one must rebuild. */
const OPTIONAL_DEPENDENCIES = ['@pdf-lib/fontkit'];

function installedVersion(name: string, fromDir: string): string {
  try {
    const pkg = createRequire(join(fromDir, 'x.js')).resolve(`${name}/package.json`);
    return String((JSON.parse(readFileSync(pkg, 'utf8')) as { version?: unknown }).version);
  } catch {
    return 'missing';
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.name !== 'node_modules' && (e.isDirectory() || e.isFile()))
    .flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : [join(dir, e.name)]))
    .filter((p) => !p.endsWith('.test.ts'))
    .sort();
}

/** A hash of every file the build reads (names and bytes) and of which optional packages are installed, so a changed source means a stale build. */
export function studioSourceHash(srcDir = STUDIO_SOURCE_DIR): string {
  const h = createHash('sha256');
  for (const f of sourceFiles(srcDir)) h.update(relative(srcDir, f).split(sep).join('/')).update('\0').update(readFileSync(f)).update('\0');
  for (const name of OPTIONAL_DEPENDENCIES) h.update(`${name}@${installedVersion(name, srcDir)}`).update('\0');
  return h.digest('hex');
}

export function studioBuildIsCurrent(distDir = DEFAULT_STUDIO_DIST, srcDir = STUDIO_SOURCE_DIR): boolean {
  const stamp = join(distDir, STAMP);
  return existsSync(join(distDir, 'index.html')) && existsSync(stamp) && readFileSync(stamp, 'utf8') === studioSourceHash(srcDir);
}

/**
 * Builds the studio into `distDir` unless a build of the current sources is already there. Returns
 * whether it built. Needs the `vite` and `@vitejs/plugin-react` packages (installed by `npm ci`).
 */
export async function ensureStudioBuilt(opts: { distDir?: string; log?: (line: string) => void } = {}): Promise<boolean> {
  const distDir = opts.distDir ?? DEFAULT_STUDIO_DIST;
  if (studioBuildIsCurrent(distDir)) return false;
  // One build at a time (two servers, or two test files, starting together): the others wait for it.
  const lock = await takeLock(`${distDir}.lock`);
  try {
    if (studioBuildIsCurrent(distDir)) return false;
    opts.log?.('building the studio web app (first start after install or update; about half a minute)…');
    const hash = studioSourceHash();
    const tmp = `${distDir}.building-${process.pid}-${Date.now()}`;
    let vite: typeof import('vite');
    try {
      vite = await import('vite');
    } catch {
      throw new Error('the studio web app is not built and the build tool (vite) is not installed: run `npm ci` (without --omit=dev)');
    }
    try {
      await vite.build({
        configFile: join(STUDIO_SOURCE_DIR, 'vite.config.ts'),
        logLevel: 'warn',
        build: { outDir: tmp, emptyOutDir: true },
      });
      writeFileSync(join(tmp, STAMP), hash);
      rmSync(distDir, { recursive: true, force: true });
      renameSync(tmp, distDir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return true;
  } finally {
    lock.release();
  }
}

/** An exclusive lock as a folder (mkdir is atomic); a lock older than 10 minutes is from a crashed build. */
async function takeLock(path: string): Promise<{ release(): void }> {
  mkdirSync(dirname(path), { recursive: true });
  for (;;) {
    try {
      mkdirSync(path);
      return { release: () => rmSync(path, { recursive: true, force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(path).mtimeMs > 10 * 60_000) rmSync(path, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** GET / (the app) and its files (/assets/…, /favicon.svg). Call after the API routes; it adds no catch-all. */
export async function registerStudioApp(app: FastifyInstance, opts: { distDir?: string } = {}): Promise<void> {
  const distDir = opts.distDir ?? DEFAULT_STUDIO_DIST;
  const send = (name: string, reply: import('fastify').FastifyReply, cache: string) => {
    let path: string;
    try {
      path = resolveInside(distDir, name);
    } catch {
      return reply.code(400).send({ error: 'bad file name' });
    }
    if (!existsSync(path) || !statSync(path).isFile()) {
      if (name === 'index.html') return reply.code(503).type('text/plain; charset=utf-8').send('The studio web app has not been built yet. Restart `inkflow serve` to build it.');
      return reply.code(404).send({ error: 'no such file' });
    }
    return reply.type(TYPES[extname(path)] ?? 'application/octet-stream').header('cache-control', cache).send(readFileLimited(path));
  };
  app.get('/', (_req, reply) => send('index.html', reply, 'no-cache'));
  app.get('/index.html', (_req, reply) => send('index.html', reply, 'no-cache'));
  app.get('/favicon.svg', (_req, reply) => send('favicon.svg', reply, 'public, max-age=3600'));
  // Vite puts a content hash in every asset name, so they can be cached for good.
  app.get('/assets/*', (req, reply) => send(`assets/${(req.params as { '*': string })['*']}`, reply, 'public, max-age=31536000, immutable'));
}
