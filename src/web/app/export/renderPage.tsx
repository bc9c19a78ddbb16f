// Renders a page off screen at any resolution with the same components the editor draws with, and
// returns a canvas. React-Konva's Stage commits synchronously inside flushSync, so the Konva nodes exist
// when it returns.
import { createRoot } from 'react-dom/client';
import { flushSync } from 'react-dom';
import { Layer, Stage } from 'react-konva';
import type Konva from 'konva';
import type { Bubble, Comic, Page } from '../../project/schema.ts';
import { StaticPage } from '../canvas/StaticPage.tsx';
import { loadImages } from '../canvas/images.ts';
import type { ImageMap } from '../canvas/images.ts';

/** Largest canvas side browsers draw reliably. */
export const MAX_CANVAS_SIDE = 16_384;

export function renderPageCanvas(page: Page, images: ImageMap, pxPerMm: number, hideTextOf?: (b: Bubble) => boolean): HTMLCanvasElement {
  const width = Math.round(page.size.width * pxPerMm);
  const height = Math.round(page.size.height * pxPerMm);
  if (width > MAX_CANVAS_SIDE || height > MAX_CANVAS_SIDE) {
    throw new Error(`this page would be ${width} × ${height} pixels, more than a browser can draw at once (${MAX_CANVAS_SIDE}); choose a lower resolution`);
  }
  const host = document.createElement('div');
  const root = createRoot(host);
  let stage: Konva.Stage | null = null;
  try {
    flushSync(() =>
      root.render(
        <Stage width={width} height={height} ref={(s) => void (stage = s)}>
          <Layer scaleX={pxPerMm} scaleY={pxPerMm}>
            <StaticPage page={page} images={images} hideTextOf={hideTextOf} />
          </Layer>
        </Stage>,
      ),
    );
    if (!stage) throw new Error('the page could not be drawn');
    return (stage as Konva.Stage).toCanvas({ pixelRatio: 1 });
  } finally {
    root.unmount();
  }
}

export function pageAssets(page: Page): string[] {
  return [...new Set(page.panels.flatMap((p) => p.layers.filter((l) => l.visible).map((l) => l.asset)))];
}

export async function imagesFor(comic: Comic, pages: Page[]): Promise<ImageMap> {
  return loadImages(comic.id, [...new Set(pages.flatMap(pageAssets))]);
}

export function canvasPng(canvas: HTMLCanvasElement): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? b.arrayBuffer().then((a) => resolve(new Uint8Array(a)), reject) : reject(new Error('the browser could not encode the picture'))), 'image/png'),
  );
}

/** Workflows of a page's generated pictures, for the exported PNG's metadata. */
export function pageWorkflows(page: Page): Record<string, unknown>[] {
  return page.panels.flatMap((p) => p.layers.flatMap((l) => (l.workflow ? [l.workflow] : [])));
}
