// Painting on a panel: a white sheet for sketches, a red wash for the inpainting mask, or a box for the
// detailer, over the panel. Coordinates are panel-local millimetres.
import { useRef } from 'react';
import { Group, Line, Rect } from 'react-konva';
import type Konva from 'konva';
import type { Panel } from '../../project/schema.ts';
import type { SketchState, Stroke } from './sketch.ts';

export function SketchOverlay({ panel, sketch, onChange }: { panel: Panel; sketch: SketchState; onChange: (s: SketchState) => void }) {
  const drawing = useRef<Stroke | null>(null);
  const boxStart = useRef<[number, number] | null>(null);
  const group = useRef<Konva.Group>(null);
  const point = (): [number, number] => {
    const p = group.current!.getRelativePointerPosition()!;
    return [Math.min(panel.w, Math.max(0, p.x)), Math.min(panel.h, Math.max(0, p.y))];
  };
  const down = () => {
    if (sketch.mode === 'box') {
      boxStart.current = point();
      onChange({ ...sketch, box: { x: boxStart.current[0], y: boxStart.current[1], w: 0, h: 0 } });
      return;
    }
    drawing.current = { points: point(), eraser: sketch.tool === 'eraser', size: sketch.size };
    onChange({ ...sketch, strokes: [...sketch.strokes, drawing.current] });
  };
  const move = () => {
    if (sketch.mode === 'box') {
      const a = boxStart.current;
      if (!a) return;
      const [x, y] = point();
      onChange({ ...sketch, box: { x: Math.min(a[0], x), y: Math.min(a[1], y), w: Math.abs(x - a[0]), h: Math.abs(y - a[1]) } });
      return;
    }
    const s = drawing.current;
    if (!s) return;
    const next = { ...s, points: [...s.points, ...point()] };
    drawing.current = next;
    onChange({ ...sketch, strokes: [...sketch.strokes.slice(0, -1), next] });
  };
  const up = () => {
    drawing.current = null;
    boxStart.current = null;
  };
  const isSketch = sketch.mode === 'sketch';
  return (
    <Group ref={group} x={panel.x} y={panel.y} clipX={0} clipY={0} clipWidth={panel.w} clipHeight={panel.h} name="paint-overlay">
      <Rect width={panel.w} height={panel.h} fill={isSketch ? '#ffffff' : 'rgba(0,0,0,0.04)'} opacity={isSketch ? 0.82 : 1} onMouseDown={down} onMouseMove={move} onMouseUp={up} onMouseLeave={up} onTouchStart={down} onTouchMove={move} onTouchEnd={up} />
      {sketch.mode !== 'box' &&
        sketch.strokes.map((s, i) => (
          <Line key={i} points={s.points} stroke={isSketch ? (s.eraser ? '#ffffff' : '#111111') : 'rgba(230,40,60,0.5)'} strokeWidth={s.size} lineCap="round" lineJoin="round" listening={false} />
        ))}
      {sketch.mode === 'box' && sketch.box && <Rect {...{ x: sketch.box.x, y: sketch.box.y, width: sketch.box.w, height: sketch.box.h }} stroke="#ff8a00" strokeWidth={0.6} dash={[2, 1.5]} fill="rgba(255,138,0,0.12)" listening={false} />}
    </Group>
  );
}
