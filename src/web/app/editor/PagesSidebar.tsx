// The left column: the comic's pages in order, and a form to add one (size and layout).
import { useState } from 'react';
import type { Comic, LayoutTemplate, PagePreset } from '../../project/schema.ts';
import { layoutTemplates, pagePresets } from '../../project/schema.ts';
import { addPage, movePage, removePage } from '../../project/edits.ts';
import { TEMPLATE_LABELS } from '../../project/layouts.ts';
import { newPage } from '../../project/newDocument.ts';

const PRESET_LABELS: Record<PagePreset, string> = { A4: 'A4 (210 × 297 mm)', B5: 'B5 manga (182 × 257 mm)', webtoon: 'Webtoon strip', custom: 'Custom size' };

interface Props {
  comic: Comic;
  currentPageId: string | null;
  onOpen: (pageId: string) => void;
  edit: (fn: (c: Comic) => Comic) => void;
}

export function PagesSidebar({ comic, currentPageId, onOpen, edit }: Props) {
  const [preset, setPreset] = useState<PagePreset>('A4');
  const [template, setTemplate] = useState<LayoutTemplate>('3');
  const [custom, setCustom] = useState({ width: 210, height: 297 });
  return (
    <nav className="pages" data-testid="pages">
      <h3>Pages</h3>
      {comic.pages.length === 0 && <p className="muted">No pages yet: choose a size and layout below.</p>}
      <ol>
        {comic.pages.map((p, i) => (
          <li key={p.id} className={p.id === currentPageId ? 'current' : ''}>
            <button className="page-link" onClick={() => onOpen(p.id)} data-testid={`page-${i + 1}`}>
              Page {i + 1}
              <span className="muted">
                {' '}
                · {p.size.preset} · {p.panels.length} panel{p.panels.length === 1 ? '' : 's'}
              </span>
            </button>
            <span className="row tight">
              <button className="small" title="Move up" disabled={i === 0} onClick={() => edit((c) => movePage(c, p.id, -1))}>
                ↑
              </button>
              <button className="small" title="Move down" disabled={i === comic.pages.length - 1} onClick={() => edit((c) => movePage(c, p.id, 1))}>
                ↓
              </button>
              <button className="small danger" title="Delete page (Undo brings it back)" onClick={() => edit((c) => removePage(c, p.id))}>
                ✕
              </button>
            </span>
          </li>
        ))}
      </ol>
      <fieldset className="add-page">
        <legend>New page</legend>
        <select value={preset} onChange={(e) => setPreset(e.target.value as PagePreset)} data-testid="new-page-size">
          {pagePresets.map((p) => (
            <option key={p} value={p}>
              {PRESET_LABELS[p]}
            </option>
          ))}
        </select>
        {preset === 'custom' && (
          <span className="row">
            <input type="number" min={20} max={2000} value={custom.width} onChange={(e) => setCustom({ ...custom, width: Number(e.target.value) })} aria-label="width in mm" />×
            <input type="number" min={20} max={20000} value={custom.height} onChange={(e) => setCustom({ ...custom, height: Number(e.target.value) })} aria-label="height in mm" />
            mm
          </span>
        )}
        <select value={template} onChange={(e) => setTemplate(e.target.value as LayoutTemplate)} data-testid="new-page-layout">
          {layoutTemplates
            .filter((t) => t !== 'custom')
            .map((t) => (
              <option key={t} value={t}>
                {TEMPLATE_LABELS[t]}
              </option>
            ))}
        </select>
        <button
          data-testid="add-page"
          onClick={() => {
            const size = { width: Math.min(2000, Math.max(20, custom.width)), height: Math.min(20000, Math.max(20, custom.height)) };
            const page = newPage(preset, template, size);
            edit((c) => addPage(c, page));
            onOpen(page.id);
          }}
        >
          Add page
        </button>
      </fieldset>
    </nav>
  );
}
