// A panel's pictures, clipped to its outline (its box, or a slanted quadrilateral), and its border — drawn
// at the panel's own origin so the editor can wrap it in a draggable group and the exporters can place it
// as it is. The panel's framing (pan and zoom) moves all its layers together.
import { Group, Image as KImage, Line, Rect, Text } from 'react-konva';
import type { Panel } from '../../project/schema.ts';
import type { ImageMap } from './images.ts';
import { placeImage } from '../../render/imageFit.ts';
import { outlineOf, traceOutline } from '../../render/panelOutline.ts';

export function PanelArt({ panel, images, placeholder }: { panel: Panel; images: ImageMap; placeholder?: boolean }) {
  const { w, h } = panel;
  const visible = panel.layers.filter((l) => l.visible);
  const outline = outlineOf(panel);
  const clip = panel.outline ? { clipFunc: (ctx: Parameters<typeof traceOutline>[0]) => traceOutline(ctx, outline) } : { clipX: 0, clipY: 0, clipWidth: w, clipHeight: h };
  return (
    <>
      <Group {...clip} listening={false}>
        <Line points={outline} closed fill="#ffffff" />
        {visible.map((l) => {
          const img = images.get(l.asset);
          if (!img) return <Rect key={l.id} width={w} height={h} fill="#e9e9e9" />;
          return <KImage key={l.id} image={img} opacity={l.opacity} globalCompositeOperation={l.blend === 'normal' ? 'source-over' : l.blend} {...placeImage(l.fit ?? 'cover', img.naturalWidth, img.naturalHeight, w, h, panel.framing)} />;
        })}
        {placeholder && visible.length === 0 && (
          <Text width={w} height={h} align="center" verticalAlign="middle" text={panel.prompt ? `“${panel.prompt.slice(0, 80)}”` : 'empty panel'} fontSize={Math.min(5, w / 12)} fill="#b0b0b0" padding={3} />
        )}
      </Group>
      {panel.borderWidth > 0 && <Line points={outline} closed stroke={panel.borderColour} strokeWidth={panel.borderWidth} lineJoin="miter" listening={false} />}
    </>
  );
}
