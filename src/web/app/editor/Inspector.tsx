// The right-hand column: settings of whatever is selected (the page, a panel or a bubble).
import { forwardRef } from 'react';
import type { Bubble, Comic, ImageLayerKind, LayoutTemplate, Page, Panel } from '../../project/schema.ts';
import { bubbleFonts, bubbleKinds, imageLayerKinds, layoutTemplates } from '../../project/schema.ts';
import { mapBubble, mapLayer, mapPage, mapPanel, movePanelOrder, removeBubble, removeLayer, removePanel, setSpacing, setTemplate } from '../../project/edits.ts';
import { TEMPLATE_LABELS } from '../../project/layouts.ts';
import { MAX_ZOOM, MIN_ZOOM, NO_FRAMING } from '../../render/imageFit.ts';

type Edit = (fn: (c: Comic) => Comic, mergeKey?: string) => void;

const LAYER_LABELS: Record<ImageLayerKind, string> = { generated: 'Generated picture', lineart: 'Line art', flat: 'Colours', shading: 'Shading', sketch: 'Sketch' };

export function PageInspector({ page, edit, say }: { page: Page; edit: Edit; say: (m: string) => void }) {
  return (
    <section className="inspector" data-testid="page-inspector">
      <h3>Page</h3>
      <p className="muted">
        {page.size.preset === 'custom' ? 'Custom' : page.size.preset} · {page.size.width} × {page.size.height} mm
      </p>
      <label>
        Layout
        <select
          value={page.layout.template}
          data-testid="layout-select"
          onChange={(e) => {
            let dropped = 0;
            edit((c) => {
              const r = setTemplate(c, page.id, e.target.value as LayoutTemplate);
              dropped = r.dropped.filter((p) => p.layers.length > 0).length;
              return r.comic;
            });
            if (dropped) say(`${dropped} panel(s) with pictures were removed by the new layout — Undo (Ctrl+Z) brings them back.`);
          }}
        >
          {layoutTemplates.map((t) => (
            <option key={t} value={t} disabled={t === 'custom'}>
              {TEMPLATE_LABELS[t]}
            </option>
          ))}
        </select>
      </label>
      <label>
        Margin {page.layout.margin} mm
        <input type="range" min={0} max={40} step={1} value={page.layout.margin} onChange={(e) => edit((c) => setSpacing(c, page.id, { margin: Number(e.target.value) }), `margin-${page.id}`)} />
      </label>
      <label>
        Gutter {page.layout.gutter} mm
        <input type="range" min={0} max={page.size.preset === 'webtoon' ? 100 : 30} step={0.5} value={page.layout.gutter} data-testid="gutter" onChange={(e) => edit((c) => setSpacing(c, page.id, { gutter: Number(e.target.value) }), `gutter-${page.id}`)} />
      </label>
      <label>
        Slanted gutters {page.layout.slant ?? 0} mm
        <input
          type="range"
          min={-20}
          max={20}
          step={1}
          value={page.layout.slant ?? 0}
          data-testid="slant"
          disabled={page.layout.template === 'custom'}
          title={page.layout.template === 'custom' ? 'choose a layout template to slant its gutters' : 'how far the gutters lean; they stay evenly wide'}
          onChange={(e) => edit((c) => setSpacing(c, page.id, { slant: Number(e.target.value) }), `slant-${page.id}`)}
        />
      </label>
      <label>
        Paper colour
        <input type="color" value={page.background} onChange={(e) => edit((c) => mapPage(c, page.id, (p) => ({ ...p, background: e.target.value })), `bg-${page.id}`)} />
      </label>
      <p className="hint">Drag a panel to move it, drop it on another panel to swap them, pull its handles to resize.</p>
    </section>
  );
}

export function PanelInspector({ page, panel, edit, comic, onAddPicture, framing, onFraming, children }: { page: Page; panel: Panel; edit: Edit; comic: Comic; onAddPicture: (kind: ImageLayerKind, file: File) => void; framing: boolean; onFraming: (on: boolean) => void; children?: React.ReactNode }) {
  const f = panel.framing ?? NO_FRAMING;
  const up = (fn: (p: Panel) => Panel, key?: string) => edit((c) => mapPanel(c, page.id, panel.id, fn), key);
  const index = page.panels.findIndex((p) => p.id === panel.id);
  return (
    <section className="inspector" data-testid="panel-inspector">
      <h3>
        Panel {index + 1} of {page.panels.length}
      </h3>
      <div className="row">
        <button onClick={() => edit((c) => movePanelOrder(c, page.id, panel.id, -1))} disabled={index === 0} title="Earlier in reading order">
          ◀ Earlier
        </button>
        <button onClick={() => edit((c) => movePanelOrder(c, page.id, panel.id, 1))} disabled={index === page.panels.length - 1} title="Later in reading order">
          Later ▶
        </button>
        <button className="danger" onClick={() => edit((c) => removePanel(c, page.id, panel.id))}>
          Delete
        </button>
      </div>
      <p className="muted">
        {panel.w.toFixed(1)} × {panel.h.toFixed(1)} mm at ({panel.x.toFixed(1)}, {panel.y.toFixed(1)})
      </p>
      <label>
        Border {panel.borderWidth} mm
        <input type="range" min={0} max={3} step={0.1} value={panel.borderWidth} onChange={(e) => up((p) => ({ ...p, borderWidth: Number(e.target.value) }), `border-${panel.id}`)} />
      </label>
      <label>
        Border colour
        <input type="color" value={panel.borderColour} onChange={(e) => up((p) => ({ ...p, borderColour: e.target.value }), `bc-${panel.id}`)} />
      </label>
      {panel.layers.length > 0 && (
        <fieldset data-testid="picture-framing">
          <legend>Picture in the panel</legend>
          <div className="row">
            <button className={framing ? 'primary' : ''} data-testid="frame-picture" onClick={() => onFraming(!framing)} title="Drag on the panel to move its picture; the mouse wheel zooms">
              {framing ? 'Done moving' : 'Move / zoom the picture'}
            </button>
            <button className="small" data-testid="frame-reset" disabled={!panel.framing} onClick={() => up((p) => ({ ...p, framing: undefined }))}>
              Reset
            </button>
          </div>
          <label>
            Zoom {f.zoom.toFixed(2)}×
            <input type="range" min={MIN_ZOOM} max={MAX_ZOOM} step={0.05} value={f.zoom} data-testid="picture-zoom" onChange={(e) => up((p) => ({ ...p, framing: { ...(p.framing ?? NO_FRAMING), zoom: Number(e.target.value) } }), `zoom-${panel.id}`)} />
          </label>
        </fieldset>
      )}
      <h4>Layers (top first)</h4>
      {panel.layers.length === 0 && <p className="muted">No pictures yet. Generate one below or add a file.</p>}
      <ul className="layers">
        {[...panel.layers].reverse().map((l) => (
          <li key={l.id} data-testid={`layer-${l.kind}`}>
            <label className="inline">
              <input type="checkbox" checked={l.visible} onChange={(e) => edit((c) => mapLayer(c, page.id, panel.id, l.id, (x) => ({ ...x, visible: e.target.checked })))} />
              {LAYER_LABELS[l.kind]}
            </label>
            <button
              className="small"
              title={(l.fit ?? 'cover') === 'cover' ? 'Fills the panel (cropped): click to show the whole picture' : 'Shows the whole picture: click to fill the panel'}
              data-testid={`fit-${l.kind}`}
              onClick={() => edit((c) => mapLayer(c, page.id, panel.id, l.id, (x) => ({ ...x, fit: (x.fit ?? 'cover') === 'cover' ? 'contain' : 'cover' })))}
            >
              {(l.fit ?? 'cover') === 'cover' ? 'Fill' : 'Fit'}
            </button>
            <input type="range" min={0} max={1} step={0.05} value={l.opacity} title="Opacity" onChange={(e) => edit((c) => mapLayer(c, page.id, panel.id, l.id, (x) => ({ ...x, opacity: Number(e.target.value) })), `op-${l.id}`)} />
            <button className="small" title="Remove this layer" onClick={() => edit((c) => removeLayer(c, page.id, panel.id, l.id))}>
              ✕
            </button>
          </li>
        ))}
      </ul>
      <label>
        Add a picture as
        <span className="row">
          {(['lineart', 'generated', 'sketch'] as const).map((kind) => (
            <label key={kind} className="file-button">
              {LAYER_LABELS[kind]}
              <input
                type="file"
                accept="image/png,image/jpeg,image/webp"
                data-testid={`add-${kind}`}
                onChange={(e) => {
                  const f = e.target.files?.[0];
                  if (f) onAddPicture(kind, f);
                  e.target.value = '';
                }}
              />
            </label>
          ))}
        </span>
      </label>
      <label>
        What happens in this panel (prompt)
        <textarea rows={3} value={panel.prompt} data-testid="panel-prompt" onChange={(e) => up((p) => ({ ...p, prompt: e.target.value }), `prompt-${panel.id}`)} />
      </label>
      {comic.characters.length > 0 && (
        <fieldset>
          <legend>Characters in this panel</legend>
          {comic.characters.map((ch) => (
            <label key={ch.id} className="inline">
              <input
                type="checkbox"
                checked={panel.characterIds.includes(ch.id)}
                onChange={(e) => up((p) => ({ ...p, characterIds: e.target.checked ? [...p.characterIds, ch.id] : p.characterIds.filter((x) => x !== ch.id) }))}
              />
              {ch.name}
            </label>
          ))}
        </fieldset>
      )}
      {children}
    </section>
  );
}

export const BubbleInspector = forwardRef<HTMLTextAreaElement, { page: Page; bubble: Bubble; edit: Edit; onDone: () => void }>(function BubbleInspector({ page, bubble, edit, onDone }, textRef) {
  const up = (fn: (b: Bubble) => Bubble, key?: string) => edit((c) => mapBubble(c, page.id, bubble.id, fn), key);
  return (
    <section className="inspector" data-testid="bubble-inspector">
      <h3>{bubble.kind === 'caption' ? 'Caption' : 'Speech bubble'}</h3>
      <label>
        Text
        <textarea ref={textRef} rows={4} value={bubble.text} data-testid="bubble-text" onChange={(e) => up((b) => ({ ...b, text: e.target.value }), `text-${bubble.id}`)} />
      </label>
      <label>
        Shape
        <select value={bubble.kind} data-testid="bubble-kind" onChange={(e) => up((b) => ({ ...b, kind: e.target.value as Bubble['kind'] }))}>
          {bubbleKinds.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </label>
      <div className="row">
        <label>
          Font
          <select value={bubble.font} onChange={(e) => up((b) => ({ ...b, font: e.target.value as Bubble['font'] }))}>
            {bubbleFonts.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </label>
        <label>
          Size (pt)
          <input type="number" min={4} max={96} step={0.5} value={bubble.fontSize} data-testid="bubble-size" onChange={(e) => up((b) => ({ ...b, fontSize: Math.min(96, Math.max(4, Number(e.target.value) || 4)) }), `size-${bubble.id}`)} />
        </label>
      </div>
      <label className="inline">
        <input
          type="checkbox"
          checked={bubble.tail !== null}
          onChange={(e) => up((b) => ({ ...b, tail: e.target.checked ? { x: b.x + b.w / 4, y: b.y + b.h * 1.8 } : null }))}
        />
        Tail (drag its orange dot to the speaker)
      </label>
      <div className="row">
        <label>
          Fill
          <input type="color" value={bubble.fill} onChange={(e) => up((b) => ({ ...b, fill: e.target.value }), `fill-${bubble.id}`)} />
        </label>
        <label>
          Line
          <input type="color" value={bubble.stroke} onChange={(e) => up((b) => ({ ...b, stroke: e.target.value }), `stroke-${bubble.id}`)} />
        </label>
        <label>
          Text
          <input type="color" value={bubble.textColour} onChange={(e) => up((b) => ({ ...b, textColour: e.target.value }), `tc-${bubble.id}`)} />
        </label>
      </div>
      <button
        className="danger"
        onClick={() => {
          edit((c) => removeBubble(c, page.id, bubble.id));
          onDone();
        }}
      >
        Delete bubble
      </button>
    </section>
  );
});

export { LAYER_LABELS, imageLayerKinds };
