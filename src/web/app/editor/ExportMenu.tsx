// Export: this page as a print PNG, the whole comic as PDF, or a webtoon strip. Runs without blocking
// the editor and reports what it did in words.
import { useState } from 'react';
import type { Comic, Page } from '../../project/schema.ts';
// The exporters (and pdf-lib) load on first use, so opening the editor stays quick.
const exportPagePng: typeof import('../export/exportPng.ts').exportPagePng = async (...a) => (await import('../export/exportPng.ts')).exportPagePng(...a);
const exportComicPdf: typeof import('../export/exportPdf.ts').exportComicPdf = async (...a) => (await import('../export/exportPdf.ts')).exportComicPdf(...a);
const exportWebtoonPng: typeof import('../export/exportWebtoon.ts').exportWebtoonPng = async (...a) => (await import('../export/exportWebtoon.ts')).exportWebtoonPng(...a);
import { download, safeFileName } from '../export/download.ts';
import { describeError } from '../api/http.ts';

export function ExportMenu({ comic, page, say }: { comic: Comic; page: Page | null; say: (m: string) => void }) {
  const [open, setOpen] = useState(false);
  const [dpi, setDpi] = useState(300);
  const [width, setWidth] = useState(800);
  const [busy, setBusy] = useState<string | null>(null);
  /** Pages chosen for the several-pages PNG export (ids); the current page when nothing was chosen yet. */
  const [chosen, setChosen] = useState<string[] | null>(null);
  const picked = comic.pages.filter((p) => (chosen ?? (page ? [page.id] : [])).includes(p.id));
  const name = safeFileName(comic.title);

  const run = async (what: string, job: () => Promise<string>) => {
    setBusy(what);
    setOpen(false);
    try {
      say(await job());
    } catch (e) {
      say(`Export failed: ${describeError(e)}`);
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="menu">
      <button onClick={() => setOpen(!open)} data-testid="export-menu" disabled={!!busy}>
        {busy ? `Exporting ${busy}…` : 'Export ▾'}
      </button>
      {open && (
        <div className="menu-panel" onMouseLeave={() => setOpen(false)}>
          <div className="row">
            <button
              disabled={!page || !!busy}
              data-testid="export-png"
              onClick={() =>
                run('page PNG', async () => {
                  const bytes = await exportPagePng(comic, page!, dpi);
                  download(bytes, `${name}-page-${comic.pages.indexOf(page!) + 1}.png`, 'image/png');
                  return `Page exported as PNG at ${dpi} dpi (${Math.round((page!.size.width * dpi) / 25.4)} × ${Math.round((page!.size.height * dpi) / 25.4)} pixels).`;
                })
              }
            >
              This page as PNG
            </button>
            <label className="inline">
              at
              <select value={dpi} onChange={(e) => setDpi(Number(e.target.value))} data-testid="export-dpi">
                {[150, 300, 600].map((d) => (
                  <option key={d} value={d}>
                    {d} dpi
                  </option>
                ))}
              </select>
            </label>
          </div>
          {comic.pages.length > 1 && (
            <fieldset className="page-picker">
              <legend>Several pages as PNG (one file each, at {dpi} dpi)</legend>
              <div className="row">
                {comic.pages.map((p, i) => (
                  <label key={p.id} className="inline">
                    <input
                      type="checkbox"
                      data-testid={`png-page-${i + 1}`}
                      checked={picked.includes(p)}
                      onChange={(e) => setChosen((e.target.checked ? [...picked, p] : picked.filter((x) => x !== p)).map((x) => x.id))}
                    />
                    {i + 1}
                  </label>
                ))}
                <button className="small" onClick={() => setChosen(comic.pages.map((p) => p.id))}>
                  All
                </button>
              </div>
              <button
                disabled={!picked.length || !!busy}
                data-testid="export-pngs"
                onClick={() =>
                  run(`${picked.length} pages as PNG`, async () => {
                    for (const p of picked) {
                      const bytes = await exportPagePng(comic, p, dpi);
                      download(bytes, `${name}-page-${comic.pages.indexOf(p) + 1}.png`, 'image/png');
                      // One download at a time: the browser names and saves each before the next starts.
                      await new Promise((r) => setTimeout(r, 250));
                    }
                    return `${picked.length} page${picked.length === 1 ? '' : 's'} exported as PNG at ${dpi} dpi (pages ${picked.map((p) => comic.pages.indexOf(p) + 1).join(', ')}), one file each.`;
                  })
                }
              >
                Export {picked.length} page{picked.length === 1 ? '' : 's'} as PNG
              </button>
            </fieldset>
          )}
          <button
            disabled={!comic.pages.length || !!busy}
            data-testid="export-pdf"
            onClick={() =>
              run('PDF', async () => {
                const r = await exportComicPdf(comic);
                download(r.bytes, `${name}.pdf`, 'application/pdf');
                return `Comic exported as PDF (${comic.pages.length} page${comic.pages.length === 1 ? '' : 's'}, 300 dpi artwork, bubble text as real text${r.cjkBubbles ? `; ${r.cjkBubbles} bubble(s) in the embedded Japanese/Chinese/Korean font` : ''}).${r.rasterisedBubbles ? ` ${r.rasterisedBubbles} bubble(s) were drawn as pixels instead of text: ${r.rasterReason ?? 'their characters have no font'}.` : ''}`;
              })
            }
          >
            Whole comic as PDF
          </button>
          <div className="row">
            <button
              disabled={!comic.pages.length || !!busy}
              data-testid="export-webtoon"
              onClick={() =>
                run('webtoon strip', async () => {
                  const bytes = await exportWebtoonPng(comic, width);
                  download(bytes, `${name}-webtoon.png`, 'image/png');
                  return `All pages exported as one ${width}-pixel-wide webtoon strip.`;
                })
              }
            >
              Webtoon strip (long PNG)
            </button>
            <label className="inline">
              <input type="number" min={200} max={4000} step={10} value={width} onChange={(e) => setWidth(Math.min(4000, Math.max(200, Number(e.target.value) || 800)))} /> px wide
            </label>
          </div>
        </div>
      )}
    </div>
  );
}
