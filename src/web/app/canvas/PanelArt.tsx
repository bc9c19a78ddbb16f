// A panel's pictures, clipped to its frame, and its border — drawn at the panel's own origin so the
// editor can wrap it in a draggable group and the exporters can place it as it is.
import { Group, Image as KImage, Rect, Text } from 'react-konva';
import type { Panel } from '../../project/schema.ts';
import type { ImageMap } from './images.ts';
import { placeImage } from '../../render/imageFit.ts';


export function PanelArt({ panel, images, placeholder }: { panel: Panel; images: ImageMap; placeholder?: boolean }) {
  const { w, h } = panel;
  const visible = panel.layers.filter((l) => l.visible);
  return (
    <>
      <Group clipX={0} clipY={0} clipWidth={w} clipHeight={h} listening={false}>
        <Rect width={w} height={h} fill="#ffffff" />
        {visible.map((l) => {
          const img = images.get(l.asset);
          if (!img) return <Rect key={l.id} width={w} height={h} fill="#e9e9e9" />;
          return <KImage key={l.id} image={img} opacity={l.opacity} globalCompositeOperation={l.blend === 'normal' ? 'source-over' : l.blend} {...placeImage(l.fit ?? 'cover', img.naturalWidth, img.naturalHeight, w, h)} />;
        })}
        {placeholder && visible.length === 0 && (
          <Text width={w} height={h} align="center" verticalAlign="middle" text={panel.prompt ? `“${panel.prompt.slice(0, 80)}”` : 'empty panel'} fontSize={Math.min(5, w / 12)} fill="#b0b0b0" padding={3} />
        )}
      </Group>
      {panel.borderWidth > 0 && <Rect width={w} height={h} stroke={panel.borderColour} strokeWidth={panel.borderWidth} listening={false} />}
    </>
  );
}
