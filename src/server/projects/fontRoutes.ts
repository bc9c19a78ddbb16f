// The font the studio embeds for text the PDF's built-in fonts cannot write (Japanese, Chinese, Korean):
// GET /studio/fonts/cjk streams the first installed one of a few TrueType-outline CJK fonts Debian ships
// (pdf-lib subsets TrueType outlines reliably; Noto CJK is CFF-outlined and left out). The studio subsets it
// into the PDF, so only the glyphs a comic uses travel into the file. 404 says which package to install.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';

/** Debian packages and where they put the font. */
export const CJK_FONT_CANDIDATES: readonly { path: string; pkg: string }[] = [
  { path: '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc', pkg: 'fonts-wqy-zenhei' },
  { path: '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', pkg: 'fonts-wqy-microhei' },
  { path: '/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf', pkg: 'fonts-ipafont-gothic' },
  { path: '/usr/share/fonts/truetype/fonts-japanese-gothic.ttf', pkg: 'fonts-ipafont-gothic' },
];

export function findCjkFont(candidates: readonly { path: string }[] = CJK_FONT_CANDIDATES): string | null {
  for (const c of candidates) if (existsSync(c.path) && statSync(c.path).isFile()) return c.path;
  return null;
}

export async function registerFontRoutes(app: FastifyInstance, opts: { candidates?: readonly { path: string; pkg: string }[] } = {}): Promise<void> {
  const candidates = opts.candidates ?? CJK_FONT_CANDIDATES;
  app.get('/studio/fonts/cjk', async (_req, reply) => {
    const path = findCjkFont(candidates);
    if (!path) {
      const pkg = (candidates[0] ?? CJK_FONT_CANDIDATES[0]).pkg;
      return reply.code(404).send({ error: `no font for Japanese, Chinese or Korean text is installed on the server (on Debian: apt-get install ${pkg})` });
    }
    return reply
      .type('application/octet-stream')
      .header('cache-control', 'max-age=3600')
      .header('x-font-file', basename(path))
      .header('content-length', statSync(path).size)
      .send(createReadStream(path));
  });
}
