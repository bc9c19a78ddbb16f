// GET /studio/fonts/cjk: the installed CJK font's bytes, or a 404 that names the Debian package to install.
import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';
import { CJK_FONT_CANDIDATES, findCjkFont, registerFontRoutes } from './fontRoutes.ts';

describe('the studio\'s CJK font route', () => {
  it('sends the first installed candidate as it is on disk', async () => {
    const path = findCjkFont();
    // The studio's tests need the font (.ci/run installs fonts-wqy-zenhei): missing is a failure, not a skip.
    expect(path, `no CJK font installed; looked for ${CJK_FONT_CANDIDATES.map((c) => c.path).join(', ')}`).not.toBeNull();
    const app = Fastify();
    await registerFontRoutes(app);
    const r = await app.inject({ method: 'GET', url: '/studio/fonts/cjk' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-font-file']).toBe(path!.split('/').pop());
    expect(Buffer.compare(r.rawPayload, readFileSync(path!))).toBe(0);
    await app.close();
  });

  it('says which package to install when no candidate exists', async () => {
    const app = Fastify();
    await registerFontRoutes(app, { candidates: [{ path: '/nonexistent/font.ttc', pkg: 'fonts-example' }] });
    const r = await app.inject({ method: 'GET', url: '/studio/fonts/cjk' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ error: 'no font for Japanese, Chinese or Korean text is installed on the server (on Debian: apt-get install fonts-example)' });
    await app.close();
  });
});
