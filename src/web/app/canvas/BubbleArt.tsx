// A speech bubble or caption: its outline (body and tail as one shape) and its text, drawn at the
// bubble's own origin. Text stays text — Konva draws the laid-out lines; nothing is baked into pixels.
import { Shape, Text } from 'react-konva';
import type { Bubble } from '../../project/schema.ts';
import { BUBBLE_LINE_MM, bubbleShapes } from '../../render/bubbleGeometry.ts';
import { FONT_FAMILIES, LINE_HEIGHT } from '../../render/textLayout.ts';
import { layoutBubbleText } from './bubbleText.ts';

export function BubbleArt({ bubble, hideText }: { bubble: Bubble; hideText?: boolean }) {
  const tip = bubble.tail ? { x: bubble.tail.x - bubble.x, y: bubble.tail.y - bubble.y } : null;
  const polys = bubbleShapes(bubble.kind, bubble.w, bubble.h, tip);
  const t = layoutBubbleText(bubble);
  return (
    <>
      <Shape
        fill={bubble.fill}
        width={bubble.w}
        height={bubble.h}
        sceneFunc={(ctx) => {
          const trace = () => {
            ctx.beginPath();
            for (const poly of polys) {
              ctx.moveTo(poly[0].x, poly[0].y);
              for (let i = 1; i < poly.length; i++) ctx.lineTo(poly[i].x, poly[i].y);
              ctx.closePath();
            }
          };
          // Stroke everything at twice the width, then fill everything: inner joints vanish under the fill.
          trace();
          ctx.lineJoin = 'round';
          ctx.lineWidth = BUBBLE_LINE_MM * 2;
          ctx.strokeStyle = bubble.stroke;
          ctx.stroke();
          ctx.fillStyle = bubble.fill;
          ctx.fill();
        }}
        hitFunc={(ctx, shape) => {
          ctx.beginPath();
          ctx.rect(0, 0, bubble.w, bubble.h);
          ctx.closePath();
          ctx.fillStrokeShape(shape);
        }}
      />
      {!hideText && (
        <Text
          name="bubble-text"
          x={t.box.x}
          y={t.box.y}
          width={t.box.w}
          height={t.box.h}
          text={t.lines.join('\n')}
          fontFamily={FONT_FAMILIES[bubble.font]}
          fontSize={t.fontSizeMm}
          lineHeight={LINE_HEIGHT}
          align="center"
          verticalAlign="middle"
          wrap="none"
          fill={bubble.textColour}
          listening={false}
        />
      )}
    </>
  );
}
