// Drawing on a panel: a sheet of paper over the panel that takes brush and eraser strokes.
import { useRef } from 'react';
import { Group, Line, Rect } from 'react-konva';
import type Konva from 'konva';
import type { Panel } from '../../project/schema.ts';
import type { SketchState, Stroke } from './sketch.ts';

export function SketchOverlay({ panel, sketch, onStrokes }: { panel: Panel; sketch: SketchState; onStrokes: (s: Stroke[]) => void }) {
  const drawing = useRef<Stroke | null>(null);
  const group = useRef<Konva.Group>(null);
  const point = () => {
    const p = group.current!.getRelativePointerPosition()!;
    return [Math.min(panel.w, Math.max(0, p.x)), Math.min(panel.h, Math.max(0, p.y))];
  };
  const down = () => {
    drawing.current = { points: point(), eraser: sketch.tool === 'eraser', size: sketch.size };
    onStrokes([...sketch.strokes, drawing.current]);
  };
  const move = () => {
    const s = drawing.current;
    if (!s) return;
    const next = { ...s, points: [...s.points, ...point()] };
    drawing.current = next;
    onStrokes([...sketch.strokes.slice(0, -1), next]);
  };
  const up = () => void (drawing.current = null);
  return (
    <Group ref={group} x={panel.x} y={panel.y} clipX={0} clipY={0} clipWidth={panel.w} clipHeight={panel.h} name="sketch-overlay">
      <Rect width={panel.w} height={panel.h} fill="#ffffff" opacity={0.82} onMouseDown={down} onMouseMove={move} onMouseUp={up} onMouseLeave={up} onTouchStart={down} onTouchMove={move} onTouchEnd={up} />
      {sketch.strokes.map((s, i) => (
        <Line key={i} points={s.points} stroke={s.eraser ? '#ffffff' : '#111111'} strokeWidth={s.size} lineCap="round" lineJoin="round" listening={false} />
      ))}
    </Group>
  );
}
