// The page being edited, on a Konva stage: click to select, drag panels (drop one on another to swap
// them), resize with handles, drag bubbles and their tail tips. Coordinates are page millimetres; the
// layer's scale turns them into screen pixels.
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { Circle, Group, Layer, Line, Rect, Stage, Transformer } from 'react-konva';
import type Konva from 'konva';
import type { Comic, Page } from '../../project/schema.ts';
import { mapBubble, mapPanel, setPanelRect, swapPanelsAt } from '../../project/edits.ts';
import { NO_FRAMING, zoomFramingAt } from '../../render/imageFit.ts';
import type { FramingLike } from '../../render/imageFit.ts';
import { outlineOf } from '../../render/panelOutline.ts';
import { BubbleArt } from '../canvas/BubbleArt.tsx';
import { PanelArt } from '../canvas/PanelArt.tsx';
import type { ImageMap } from '../canvas/images.ts';
import type { Selection } from './selection.ts';

const PAD = 24;

interface Props {
  page: Page;
  images: ImageMap;
  selection: Selection;
  onSelect: (s: Selection) => void;
  edit: (fn: (c: Comic) => Comic, mergeKey?: string) => void;
  onEditText: () => void;
  /** Extra Konva content drawn over the page (sketch and mask painting), in page millimetres. */
  overlay?: React.ReactNode;
  /** A panel whose picture is being framed: dragging pans the picture, the wheel zooms it. */
  framingId?: string | null;
}

export function PageCanvas({ page, images, selection, onSelect, edit, onEditText, overlay, framingId }: Props) {
  const panStart = useRef<FramingLike>(NO_FRAMING);
  const box = useRef<HTMLDivElement>(null);
  const [area, setArea] = useState({ w: 800, h: 600 });
  useLayoutEffect(() => {
    const el = box.current!;
    const ro = new ResizeObserver(() => setArea({ w: el.clientWidth, h: el.clientHeight }));
    ro.observe(el);
    setArea({ w: el.clientWidth, h: el.clientHeight });
    return () => ro.disconnect();
  }, []);

  const tall = page.size.height / page.size.width > 2.2; // webtoon strips fit the width and scroll
  const scaleW = (area.w - 2 * PAD) / page.size.width;
  // A strip is shown at most 520 px wide, so a screenful holds a few panels rather than half of one.
  const scale = Math.max(0.5, tall ? Math.min(scaleW, 520 / page.size.width) : Math.min(scaleW, (area.h - 2 * PAD) / page.size.height));
  const stageW = Math.max(area.w, page.size.width * scale + 2 * PAD);
  const stageH = tall ? page.size.height * scale + 2 * PAD : Math.max(area.h - 4, page.size.height * scale + 2 * PAD);
  const ox = (stageW - page.size.width * scale) / 2;

  const transformer = useRef<Konva.Transformer>(null);
  const nodes = useRef(new Map<string, Konva.Node>());
  const selectedId = selection.kind === 'page' ? null : selection.id;
  useEffect(() => {
    const t = transformer.current;
    if (!t) return;
    const n = selectedId ? nodes.current.get(selectedId) : undefined;
    t.nodes(n ? [n] : []);
    t.getLayer()?.batchDraw();
  }, [selectedId, page]);

  const register = (id: string) => (n: Konva.Node | null) => {
    if (n) nodes.current.set(id, n);
    else nodes.current.delete(id);
  };

  /** Reads a resized node back into millimetres and resets its scale (Konva resizes by scaling). */
  const readRect = (n: Konva.Node) => {
    const r = { x: n.x(), y: n.y(), w: n.width() * n.scaleX(), h: n.height() * n.scaleY() };
    n.scale({ x: 1, y: 1 });
    return r;
  };

  return (
    <div ref={box} className="canvas-box" data-testid="page-canvas" data-scale={scale} data-origin-x={ox} data-origin-y={PAD}>
      <Stage width={stageW} height={stageH} onMouseDown={(e) => e.target === e.target.getStage() && onSelect({ kind: 'page' })}>
        <Layer x={ox} y={PAD} scaleX={scale} scaleY={scale}>
          <Rect width={page.size.width} height={page.size.height} fill={page.background} shadowColor="#000" shadowBlur={12 / scale} shadowOpacity={0.25} onMouseDown={() => onSelect({ kind: 'page' })} />
          {page.panels.map((p) => (
            <Group
              key={p.id}
              name="panel"
              x={p.x}
              y={p.y}
              width={p.w}
              height={p.h}
              draggable={framingId !== p.id}
              onMouseDown={() => onSelect({ kind: 'panel', id: p.id })}
              onTap={() => onSelect({ kind: 'panel', id: p.id })}
              onDragEnd={(e) => {
                if (e.target !== e.currentTarget) return; // a drag inside the panel (framing the picture), not of it
                const n = e.target;
                const x = n.x();
                const y = n.y();
                n.position({ x: p.x, y: p.y }); // the document decides where it ends up
                edit((c) => swapPanelsAt(c, page.id, p.id, x + p.w / 2, y + p.h / 2) ?? setPanelRect(c, page.id, p.id, { x, y, w: p.w, h: p.h }));
              }}
            >
              {/* The frame is what the transformer holds: a group's bounds would include the overflow of a
                  picture that covers the panel, and the handles would sit outside the frame. */}
              <Rect
                ref={register(p.id)}
                width={p.w}
                height={p.h}
                fill="rgba(0,0,0,0)"
                listening={!p.outline} // a slanted panel is hit inside its outline only (the Line below)
                onTransformEnd={(e) => {
                  const n = e.target;
                  const r = { x: p.x + n.x(), y: p.y + n.y(), w: n.width() * n.scaleX(), h: n.height() * n.scaleY() };
                  n.setAttrs({ x: 0, y: 0, scaleX: 1, scaleY: 1 });
                  edit((c) => setPanelRect(c, page.id, p.id, r));
                }}
              />
              <PanelArt panel={p} images={images} placeholder />
              {p.outline && <Line points={p.outline} closed fill="rgba(0,0,0,0)" />}
              {framingId === p.id && (
                // Framing: a drag on the panel pans its picture, the wheel zooms it about the pointer.
                <Rect
                  name="framing-handle"
                  width={p.w}
                  height={p.h}
                  fill="rgba(47,124,246,0.06)"
                  draggable
                  onDragStart={() => void (panStart.current = p.framing ?? NO_FRAMING)}
                  onDragMove={(e) => {
                    const d = e.target.position();
                    const f = { ...panStart.current, x: round(panStart.current.x + d.x), y: round(panStart.current.y + d.y) };
                    edit((c) => mapPanel(c, page.id, p.id, (pn) => ({ ...pn, framing: f })), `frame-${p.id}`);
                  }}
                  onDragEnd={(e) => {
                    e.cancelBubble = true;
                    e.target.position({ x: 0, y: 0 });
                  }}
                  onWheel={(e) => {
                    e.evt.preventDefault();
                    const at = e.target.getRelativePointerPosition();
                    if (!at) return;
                    const f = zoomFramingAt(p.framing ?? NO_FRAMING, p.w, p.h, at.x, at.y, Math.pow(1.0015, -e.evt.deltaY));
                    edit((c) => mapPanel(c, page.id, p.id, (pn) => ({ ...pn, framing: f })), `frame-${p.id}`);
                  }}
                />
              )}
              {selection.kind === 'panel' && selection.id === p.id && <Line points={outlineOf(p)} closed stroke="#2f7cf6" strokeWidth={2 / scale} listening={false} />}
            </Group>
          ))}
          {overlay}
          {page.bubbles.map((b) => (
            <Group
              key={b.id}
              ref={register(b.id)}
              name="bubble"
              x={b.x}
              y={b.y}
              width={b.w}
              height={b.h}
              draggable
              onMouseDown={() => onSelect({ kind: 'bubble', id: b.id })}
              onTap={() => onSelect({ kind: 'bubble', id: b.id })}
              onDblClick={onEditText}
              onDragEnd={(e) => {
                const x = e.target.x();
                const y = e.target.y();
                const dx = x - b.x;
                const dy = y - b.y;
                // The tail moves with its bubble; its tip is then dragged onto the speaker.
                edit((c) => mapBubble(c, page.id, b.id, (bb) => ({ ...bb, x: round(x), y: round(y), tail: bb.tail && { x: round(bb.tail.x + dx), y: round(bb.tail.y + dy) } })));
              }}
              onTransformEnd={(e) => {
                const r = readRect(e.target);
                edit((c) => mapBubble(c, page.id, b.id, (bb) => ({ ...bb, x: round(r.x), y: round(r.y), w: Math.max(6, round(r.w)), h: Math.max(4, round(r.h)) })));
              }}
            >
              <BubbleArt bubble={b} />
            </Group>
          ))}
          <Transformer ref={transformer} rotateEnabled={false} keepRatio={false} ignoreStroke flipEnabled={false} anchorSize={9} borderStroke="#2f7cf6" anchorStroke="#2f7cf6" />
          {page.bubbles.map((b) =>
            selection.kind === 'bubble' && selection.id === b.id && b.tail ? (
              <Circle
                key={`${b.id}-tail`}
                name="tail-handle"
                x={b.tail.x}
                y={b.tail.y}
                radius={7 / scale}
                fill="#ff8a00"
                stroke="#fff"
                strokeWidth={1.5 / scale}
                draggable
                onDragMove={(e) => {
                  const x = round(e.target.x());
                  const y = round(e.target.y());
                  edit((c) => mapBubble(c, page.id, b.id, (bb) => ({ ...bb, tail: { x, y } })), `tail-${b.id}`);
                }}
              />
            ) : null,
          )}
        </Layer>
      </Stage>
    </div>
  );
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
