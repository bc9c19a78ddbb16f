// The comic editor: loads a project (a damaged one is explained, never shown as a blank page), then
// pages on the left, the page canvas in the middle and the selection's settings on the right. Every
// change goes through the undo history and is autosaved.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Bubble, Comic, ImageLayerKind } from '../../project/schema.ts';
import { addBubble, mapPage, putLayer } from '../../project/edits.ts';
import { assetsOf } from '../../project/schema.ts';
import { newBubble, newId } from '../../project/newDocument.ts';
import { loadProject, rawProjectUrl, uploadAsset } from '../api/projectsApi.ts';
import { describeError, StudioError } from '../api/http.ts';
import { useImages } from '../canvas/images.ts';
import { useHistory } from './useHistory.ts';
import { useAutosave } from './useAutosave.ts';
import type { SaveState } from './useAutosave.ts';
import { PageCanvas } from './PageCanvas.tsx';
import { PagesSidebar } from './PagesSidebar.tsx';
import { BubbleInspector, PageInspector, PanelInspector } from './Inspector.tsx';
import { ExportMenu } from './ExportMenu.tsx';
import { CharactersPanel } from './CharactersPanel.tsx';
import { PanelTools } from '../tools/PanelTools.tsx';
import { useJobs } from '../tools/useJobs.ts';
import { SketchOverlay } from '../tools/SketchOverlay.tsx';
import type { SketchState } from '../tools/sketch.ts';
import type { Selection } from './selection.ts';

type Loaded = { state: 'loading' } | { state: 'error'; message: string; problems: string[]; damaged: boolean } | { state: 'ready'; comic: Comic; revision: number };

export function Editor({ projectId }: { projectId: string }) {
  const [loaded, setLoaded] = useState<Loaded>({ state: 'loading' });
  useEffect(() => {
    let live = true;
    setLoaded({ state: 'loading' });
    loadProject(projectId).then(
      (r) => live && setLoaded({ state: 'ready', comic: r.comic, revision: r.revision }),
      (e) => live && setLoaded({ state: 'error', message: describeError(e instanceof StudioError && e.problems.length ? new Error(e.message) : e), problems: e instanceof StudioError ? e.problems : [], damaged: e instanceof StudioError && e.status === 422 }),
    );
    return () => {
      live = false;
    };
  }, [projectId]);

  if (loaded.state === 'loading') return <div className="centre muted">Opening the comic…</div>;
  if (loaded.state === 'error')
    return (
      <div className="centre error-page" data-testid="open-error">
        <h2>This comic could not be opened</h2>
        <p>{loaded.message}.</p>
        {loaded.problems.length > 0 && (
          <ul>
            {loaded.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
        {loaded.damaged && (
          <p>
            Nothing was changed. You can <a href={rawProjectUrl(projectId)}>download the stored file</a> to repair it, then import it from the project list.
          </p>
        )}
        <p>
          <a href="#/">Back to your comics</a>
        </p>
      </div>
    );
  return <EditorReady initial={loaded.comic} revision={loaded.revision} />;
}

function saveLabel(s: SaveState): string {
  if (s.kind === 'saved') return 'All changes saved';
  if (s.kind === 'pending' || s.kind === 'saving') return 'Saving…';
  if (s.kind === 'conflict') return `Not saved: ${s.message}. Reload to see the newer version.`;
  return `Not saved yet (${s.message}); retrying…`;
}

function EditorReady({ initial, revision }: { initial: Comic; revision: number }) {
  const { comic, edit, undo, redo, canUndo, canRedo } = useHistory(initial);
  const save = useAutosave(comic, revision);
  const [pageId, setPageId] = useState<string | null>(initial.pages[0]?.id ?? null);
  const [selection, setSelection] = useState<Selection>({ kind: 'page' });
  const [message, setMessage] = useState<string | null>(null);
  const textRef = useRef<HTMLTextAreaElement>(null);
  const images = useImages(comic.id, assetsOf(comic));
  const jobs = useJobs();
  const [sketch, setSketch] = useState<SketchState | null>(null);
  /** The panel whose picture a drag moves and the wheel zooms (instead of moving the panel). */
  const [framingId, setFramingId] = useState<string | null>(null);

  const page = comic.pages.find((p) => p.id === pageId) ?? comic.pages[0] ?? null;
  const panel = page && selection.kind === 'panel' ? page.panels.find((p) => p.id === selection.id) : undefined;
  const bubble = page && selection.kind === 'bubble' ? page.bubbles.find((b) => b.id === selection.id) : undefined;

  const sketchPanel = sketch && page ? page.panels.find((p) => p.id === sketch.panelId) : undefined;
  const say = useCallback((m: string) => setMessage(m), []);
  useEffect(() => {
    if (!message) return;
    const t = setTimeout(() => setMessage(null), 9000);
    return () => clearTimeout(t);
  }, [message]);

  // Keyboard: undo/redo everywhere except inside text fields (they have their own), Delete removes a bubble.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const typing = e.target instanceof HTMLElement && e.target.closest('input, textarea, select');
      if (typing) return;
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === 'z') {
        e.preventDefault();
        if (e.shiftKey) redo();
        else undo();
      } else if (mod && e.key.toLowerCase() === 'y') {
        e.preventDefault();
        redo();
      } else if ((e.key === 'Delete' || e.key === 'Backspace') && page && selection.kind === 'bubble') {
        edit((c) => mapPage(c, page.id, (p) => ({ ...p, bubbles: p.bubbles.filter((b) => b.id !== selection.id) })));
        setSelection({ kind: 'page' });
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [undo, redo, edit, page, selection]);

  const addPicture = async (kind: ImageLayerKind, file: File) => {
    if (!page || !panel) return;
    try {
      const asset = await uploadAsset(comic.id, file);
      // A picture from a file is shown whole at first (it may not have the panel's shape); "Fill" crops it to the frame.
      edit((c) => putLayer(c, page.id, panel.id, { id: newId('layer'), kind, asset, visible: true, opacity: 1, blend: 'normal', fit: 'contain' }, kind !== 'generated'));
    } catch (e) {
      say(`The picture was not added: ${describeError(e)}`);
    }
  };

  const placeBubble = (kind: Bubble['kind']) => {
    if (!page) return;
    // New bubbles go into the selected panel's upper part, or the page's upper third.
    const target = panel ?? { x: 0, y: 0, w: page.size.width, h: Math.min(page.size.height, 120) };
    const b = newBubble(kind, target.x + target.w / 2, target.y + Math.min(target.h * 0.3, 30) + (kind === 'caption' ? -8 : 0));
    edit((c) => addBubble(c, page.id, b));
    setSelection({ kind: 'bubble', id: b.id });
    setTimeout(() => textRef.current?.focus(), 0);
  };

  return (
    <div className="editor">
      <header className="toolbar">
        <a href="#/" className="brand" title="Your comics">
          inkflow studio
        </a>
        <input className="title" value={comic.title} aria-label="Comic title" onChange={(e) => edit((c) => ({ ...c, title: e.target.value.slice(0, 200) || c.title }), 'title')} />
        <button onClick={undo} disabled={!canUndo} title="Undo (Ctrl+Z)" data-testid="undo">
          ↶ Undo
        </button>
        <button onClick={redo} disabled={!canRedo} title="Redo (Ctrl+Shift+Z)" data-testid="redo">
          ↷ Redo
        </button>
        <span className="spacer" />
        <span className="bubble-tools">
          Add:
          {(['oval', 'cloud', 'shout', 'rectangle', 'caption'] as const).map((k) => (
            <button key={k} disabled={!page} onClick={() => placeBubble(k)} data-testid={`add-bubble-${k}`}>
              {k === 'oval' ? 'Speech' : k === 'cloud' ? 'Thought' : k === 'shout' ? 'Shout' : k === 'rectangle' ? 'Box' : 'Caption'}
            </button>
          ))}
        </span>
        <span className="spacer" />
        <span className={`save-state ${save.kind}`} data-testid="save-state">
          {saveLabel(save)}
        </span>
        <ExportMenu comic={comic} page={page} say={say} />
        <a href="#/models">Models</a>
      </header>
      <aside className="left">
        <PagesSidebar
          comic={comic}
          currentPageId={page?.id ?? null}
          onOpen={(id) => {
            setPageId(id);
            setSelection({ kind: 'page' });
          }}
          edit={edit}
        />
        <CharactersPanel comic={comic} edit={edit} say={say} />
      </aside>
      <main className="centre-area">
        {page ? (
          <PageCanvas
            page={page}
            images={images}
            selection={selection}
            onSelect={setSelection}
            edit={edit}
            onEditText={() => textRef.current?.focus()}
            framingId={framingId === panel?.id && !sketch ? framingId : null}
            overlay={sketchPanel && sketch ? <SketchOverlay panel={sketchPanel} sketch={sketch} onChange={setSketch} /> : null}
          />
        ) : (
          <div className="centre muted">Add a page on the left to start.</div>
        )}
        {message && (
          <div className="toast" role="status" data-testid="toast" onClick={() => setMessage(null)}>
            {message}
          </div>
        )}
      </main>
      <aside className="right">
        {page && selection.kind === 'page' && <PageInspector page={page} edit={edit} say={say} />}
        {page && panel && (
          <PanelInspector page={page} panel={panel} edit={edit} comic={comic} onAddPicture={addPicture} framing={framingId === panel.id} onFraming={(on) => setFramingId(on ? panel.id : null)}>
            <PanelTools comic={comic} page={page} panel={panel} edit={edit} say={say} jobs={jobs} sketch={sketch} setSketch={setSketch} />
          </PanelInspector>
        )}
        {page && bubble && <BubbleInspector ref={textRef} page={page} bubble={bubble} edit={edit} onDone={() => setSelection({ kind: 'page' })} />}
      </aside>
    </div>
  );
}
