// A whole page as it prints: background, panels in order, then bubbles. Used by the exporters.
import { Group, Rect } from 'react-konva';
import type { Bubble, Page } from '../../project/schema.ts';
import { BubbleArt } from './BubbleArt.tsx';
import { PanelArt } from './PanelArt.tsx';
import type { ImageMap } from './images.ts';

export function StaticPage({ page, images, hideTextOf }: { page: Page; images: ImageMap; hideTextOf?: (b: Bubble) => boolean }) {
  return (
    <>
      <Rect width={page.size.width} height={page.size.height} fill={page.background} />
      {page.panels.map((p) => (
        <Group key={p.id} x={p.x} y={p.y}>
          <PanelArt panel={p} images={images} />
        </Group>
      ))}
      {page.bubbles.map((b) => (
        <Group key={b.id} x={b.x} y={b.y}>
          <BubbleArt bubble={b} hideText={hideTextOf?.(b)} />
        </Group>
      ))}
    </>
  );
}
