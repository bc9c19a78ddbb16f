// The selected panel's generation tools. Each sends a workflow to the server and follows it live —
// progress, step previews, cancel — while the editor stays usable; the result lands as a new layer of
// this panel even if the painter has moved on to another one.
import { useEffect, useState } from 'react';
import type { Comic, ImageLayer, Page, Panel } from '../../project/schema.ts';
import { putLayer } from '../../project/edits.ts';
import { newId } from '../../project/newDocument.ts';
import { characterLoras, composePrompt, detailBox, findFlatColouriser, flatColourPanel, GENERATE_DEFAULTS, inpaintPanel, modelColourPanel, panelPixels, panelSeed, sketchToPanel, textToPanel } from '../../workflows/panelWorkflows.ts';
import type { ComfyPrompt, NodeInfo, SketchGuideKind } from '../../workflows/panelWorkflows.ts';
import { assetUrl, uploadAsset } from '../api/projectsApi.ts';
import { describeError } from '../api/http.ts';
import { choices, fetchImage, listModels, objectInfo, runWorkflow, uploadImage, viewUrl } from './comfyClient.ts';
import type { JobCallbacks } from './comfyClient.ts';
import type { Jobs } from './useJobs.ts';
import type { PaintMode, SketchState } from './sketch.ts';
import { maskPng, sketchPng, startPainting } from './sketch.ts';
import { frameToImage } from '../../render/imageFit.ts';
import { BUNDLED_CHECKPOINT_SIDE, BUNDLED_MODEL_NAME, BUNDLED_MODEL_NOTES } from '../../workflows/bundledModels.ts';
import { loadImage } from '../canvas/images.ts';

type Edit = (fn: (c: Comic) => Comic, mergeKey?: string) => void;
type Info = Record<string, NodeInfo>;

let infoPromise: Promise<Info> | null = null;
function serverNodes(refresh = false): Promise<Info> {
  if (!infoPromise || refresh) {
    infoPromise = objectInfo() as Promise<Info>;
    infoPromise.catch(() => (infoPromise = null));
  }
  return infoPromise;
}

interface Props {
  comic: Comic;
  page: Page;
  panel: Panel;
  edit: Edit;
  say: (m: string) => void;
  jobs: Jobs;
  sketch: SketchState | null;
  setSketch: (s: SketchState | null) => void;
}

async function blobOfAsset(projectId: string, name: string): Promise<Blob> {
  const r = await fetch(assetUrl(projectId, name));
  if (!r.ok) throw new Error('a picture of this panel could not be read back from the project');
  return r.blob();
}

/** Sends a project picture to the server's input folder and returns the name LoadImage takes. */
async function toServerInput(blob: Blob, hint: string): Promise<string> {
  const img = await uploadImage(blob, `${hint}-${Date.now().toString(36)}.png`);
  return img.subfolder ? `${img.subfolder}/${img.filename}` : img.filename;
}

export function PanelTools({ comic, page, panel, edit, say, jobs, sketch, setSketch }: Props) {
  const [info, setInfo] = useState<Info | null>(null);
  const [infoError, setInfoError] = useState<string | null>(null);
  const [checkpoint, setCheckpoint] = useState('');
  const [controlNet, setControlNet] = useState('');
  const [guideKind, setGuideKind] = useState<SketchGuideKind>('controlnet');
  /** Names in models/t2i_adapter: ControlNetLoader lists them with the ControlNets, this tells them apart. */
  const [adapterNames, setAdapterNames] = useState<string[]>([]);
  const [longSide, setLongSide] = useState(512);
  const [steps, setSteps] = useState(GENERATE_DEFAULTS.steps);
  const [fidelity, setFidelity] = useState(0.75);
  const [sheetOwner, setSheetOwner] = useState('');
  const [colourModel, setColourModel] = useState('');
  const [paletteLock, setPaletteLock] = useState(true);
  const [keepShading, setKeepShading] = useState(true);

  const load = (refresh = false) =>
    serverNodes(refresh).then(
      (i) => {
        setInfo(i);
        setInfoError(null);
      },
      (e) => setInfoError(describeError(e)),
    );
  useEffect(() => void load(), []);
  useEffect(() => {
    if (info) listModels('t2i_adapter').then(setAdapterNames, () => setAdapterNames([])); // a server without the folder has none
  }, [info]);

  const checkpoints = info ? choices(info, 'CheckpointLoaderSimple', 'ckpt_name') : [];
  /** Picking the bundled tiny model also picks the size it draws at. */
  const pickCheckpoint = (name: string) => {
    setCheckpoint(name);
    if (name === BUNDLED_MODEL_NAME) setLongSide(BUNDLED_CHECKPOINT_SIDE);
  };
  const sketchGuides = info ? choices(info, 'ControlNetLoader', 'control_net_name') : [];
  const adapters = sketchGuides.filter((n) => adapterNames.includes(n));
  const controlNets = sketchGuides.filter((n) => !adapterNames.includes(n));
  const guides = guideKind === 't2i-adapter' ? adapters : controlNets;
  const guide = guides.includes(controlNet) ? controlNet : guides[0];
  const flat = info ? findFlatColouriser(info) : null;
  const colourModels = info ? choices(info, 'InkflowReferenceColorize', 'model_name') : [];
  const model = colourModels.includes(colourModel) ? colourModel : colourModels[0];
  useEffect(() => {
    if (!checkpoints.includes(checkpoint) && checkpoints[0]) pickCheckpoint(checkpoints[0]);
    // Offer what is installed: adapters only when no ControlNet is.
    if (controlNets.length === 0 && adapters.length > 0) setGuideKind('t2i-adapter');
  }, [info, adapterNames]); // eslint-disable-line react-hooks/exhaustive-deps

  const job = jobs.byPanel[panel.id];
  const busy = job?.running ?? false;
  const lineart = [...panel.layers].reverse().find((l) => l.kind === 'lineart');
  const sheetCharacters = comic.characters.filter((c) => c.sheets.length > 0);
  const sheetChar = sheetCharacters.find((c) => c.id === sheetOwner) ?? sheetCharacters.find((c) => panel.characterIds.includes(c.id)) ?? sheetCharacters[0];
  const drawing = sketch?.panelId === panel.id && sketch.mode === 'sketch';
  const sketchLayer = [...panel.layers].reverse().find((l) => l.kind === 'sketch');

  /** Runs a workflow and puts its first picture on this panel as a layer of `kind`. */
  const generate = (label: string, kind: ImageLayer['kind'], build: () => Promise<ComfyPrompt>, replace = false, fit: ImageLayer['fit'] = 'cover') => {
    const { id: pageId } = page;
    const panelId = panel.id;
    jobs.start(panelId, label, async (cb: JobCallbacks) => {
      const prompt = await build();
      const outputs = await runWorkflow(prompt, cb);
      if (!outputs[0]) throw new Error('the server finished but sent no picture back');
      cb.onStatus?.('adding the picture to the panel…');
      const place = async (out: (typeof outputs)[number]) => {
        const asset = await uploadAsset(comic.id, await fetchImage(out));
        edit((c) => putLayer(c, pageId, panelId, { id: newId('layer'), kind, asset, visible: true, opacity: 1, blend: 'normal', fit, workflow: prompt }, kind !== 'generated' || replace));
      };
      if (outputs.length > 1) {
        return { status: `${outputs.length} candidates: click the one to keep`, candidates: outputs.map((o) => ({ url: viewUrl(o), pick: () => place(o) })) };
      }
      await place(outputs[0]);
      return { status: 'done — the picture is a new layer of this panel' };
    });
  };

  /** The panel's picture that inpainting and the detailer work on: its top visible generated or coloured layer. */
  const basePicture = [...panel.layers].reverse().find((l) => l.visible && (l.kind === 'generated' || l.kind === 'flat'));
  const painting = (mode: PaintMode) => sketch?.panelId === panel.id && sketch.mode === mode;
  const togglePainting = (mode: PaintMode) => setSketch(painting(mode) ? null : startPainting(panel.id, mode));

  const settings = () => {
    const { width, height } = panelPixels(panel, longSide);
    return {
      checkpoint,
      positive: composePrompt(panel, comic.characters),
      negative: GENERATE_DEFAULTS.negative,
      width,
      height,
      seed: panelSeed(panel, comic.characters, Math.floor(Math.random() * 2 ** 32)),
      steps,
      cfg: GENERATE_DEFAULTS.cfg,
      sampler: GENERATE_DEFAULTS.sampler,
      scheduler: GENERATE_DEFAULTS.scheduler,
      loras: characterLoras(panel, comic.characters),
      batch: 1,
    };
  };

  const noCheckpoint = info !== null && checkpoints.length === 0;
  const textReason = noCheckpoint ? 'no checkpoint is installed: put a .safetensors file in models/checkpoints' : !composePrompt(panel, comic.characters) ? 'write what happens in this panel first (the prompt above)' : null;
  const sketchReason = textReason ?? (info !== null && sketchGuides.length === 0 ? 'sketch → panel needs a ControlNet (models/controlnet) or a T2I-Adapter (models/t2i_adapter)' : !guide ? (guideKind === 't2i-adapter' ? 'no T2I-Adapter is installed: put one in models/t2i_adapter, or choose ControlNet' : 'no ControlNet is installed: put one in models/controlnet, or choose T2I-Adapter') : !(drawing && sketch!.strokes.length) && !sketchLayer ? 'draw a sketch on the panel (or add a sketch picture) first' : null);
  const colourReason = !info ? null : !flat ? 'this server has no flat colouriser node' : !lineart ? 'add the line art to colour to this panel first (Add a picture as: Line art)' : !sheetChar ? 'add a character with a reference sheet first (Characters, on the left)' : null;

  return (
    <div className="tools" data-testid="panel-tools">
      <h4>Make this panel</h4>
      {job && (
        <div className="job" data-testid="job">
          <strong>{job.label}</strong>: <span data-testid="job-status">{job.status}</span>
          {job.max > 0 && (
            <div className="progress" data-testid="job-progress">
              <div style={{ width: `${(100 * job.value) / job.max}%` }} />
            </div>
          )}
          {job.preview && job.running && <img className="preview" src={job.preview} alt="preview of the picture being made" data-testid="job-preview" />}
          {job.candidates.length > 0 && (
            <div className="candidates" data-testid="candidates">
              {job.candidates.map((c, i) => (
                <button
                  key={c.url}
                  className="candidate"
                  title={`Use candidate ${i + 1}`}
                  onClick={() => c.pick().then(() => jobs.dismiss(panel.id), (e) => say(`That picture could not be used: ${describeError(e)}`))}
                >
                  <img src={c.url} alt={`candidate ${i + 1}`} />
                </button>
              ))}
            </div>
          )}
          {job.error && (
            <p className="error-box" data-testid="job-error">
              {job.error}
            </p>
          )}
          <div className="row">
            {job.running ? (
              <button onClick={() => jobs.cancel(panel.id)} data-testid="job-cancel">
                Cancel
              </button>
            ) : (
              <button className="small" onClick={() => jobs.dismiss(panel.id)}>
                OK
              </button>
            )}
          </div>
        </div>
      )}
      {infoError && (
        <p className="error-box">
          The generation tools need the inkflow server: {infoError}{' '}
          <button className="small" onClick={() => load(true)}>
            Try again
          </button>
        </p>
      )}
      {noCheckpoint && (
        <p className="note" data-testid="no-checkpoint">
          No checkpoint is installed: put a .safetensors file in models/checkpoints to generate panels. Colouring line art with flat colours works without one.
        </p>
      )}
      {checkpoints.length > 0 && (
        <label>
          Checkpoint
          <select value={checkpoint} onChange={(e) => pickCheckpoint(e.target.value)} data-testid="checkpoint">
            {checkpoints.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
      )}
      {checkpoint === BUNDLED_MODEL_NAME && (
        <p className="hint" data-testid="bundled-checkpoint-hint">
          {BUNDLED_MODEL_NOTES.checkpoints}.
        </p>
      )}
      <div className="row">
        <label>
          Long side (px)
          <input type="number" min={64} max={2048} step={64} value={longSide} data-testid="long-side" onChange={(e) => setLongSide(Math.min(2048, Math.max(64, Number(e.target.value) || 512)))} />
        </label>
        <label>
          Steps
          <input type="number" min={1} max={150} value={steps} data-testid="steps" onChange={(e) => setSteps(Math.min(150, Math.max(1, Number(e.target.value) || 20)))} />
        </label>
      </div>
      <button className="primary" disabled={busy || !!textReason || !info} title={textReason ?? ''} data-testid="text-to-panel" onClick={() => generate('Text → panel', 'generated', async () => textToPanel(settings()))}>
        Text → panel
      </button>

      <h4>Sketch → panel</h4>
      <div className="row">
        <button data-testid="draw-sketch" onClick={() => togglePainting('sketch')}>
          {drawing ? 'Stop drawing' : 'Draw on the panel'}
        </button>
        {drawing && (
          <>
            <button className={sketch!.tool === 'brush' ? 'primary' : ''} onClick={() => setSketch({ ...sketch!, tool: 'brush' })} data-testid="brush">
              Brush
            </button>
            <button className={sketch!.tool === 'eraser' ? 'primary' : ''} onClick={() => setSketch({ ...sketch!, tool: 'eraser', size: Math.max(sketch!.size, 3) })} data-testid="eraser">
              Eraser
            </button>
            <button disabled={!sketch!.strokes.length} onClick={() => setSketch({ ...sketch!, strokes: sketch!.strokes.slice(0, -1) })} data-testid="sketch-undo">
              Undo stroke
            </button>
          </>
        )}
      </div>
      {drawing && (
        <label>
          Pen {sketch!.size.toFixed(1)} mm
          <input type="range" min={0.3} max={8} step={0.1} value={sketch!.size} onChange={(e) => setSketch({ ...sketch!, size: Number(e.target.value) })} />
        </label>
      )}
      {sketchGuides.length > 0 && (
        <div className="row">
          <label>
            Follow the sketch with
            <select value={guideKind} onChange={(e) => setGuideKind(e.target.value as SketchGuideKind)} data-testid="guide-kind">
              <option value="controlnet">ControlNet ({controlNets.length})</option>
              <option value="t2i-adapter">T2I-Adapter ({adapters.length})</option>
            </select>
          </label>
          {guides.length > 0 && (
            <label>
              {guideKind === 't2i-adapter' ? 'Adapter' : 'ControlNet'}
              <select value={guide} onChange={(e) => setControlNet(e.target.value)} data-testid="controlnet">
                {guides.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </label>
          )}
        </div>
      )}
      <label>
        Sketch fidelity {fidelity.toFixed(2)} <span className="hint">(0 ignores the sketch; 0.75 follows it closely; 1 sticks to it)</span>
        <input type="range" min={0} max={1} step={0.05} value={fidelity} data-testid="fidelity" onChange={(e) => setFidelity(Number(e.target.value))} />
      </label>
      <button
        className="primary"
        disabled={busy || !!sketchReason || !info}
        title={sketchReason ?? ''}
        data-testid="sketch-to-panel"
        onClick={() => {
          const s = settings();
          const strokes = drawing ? sketch!.strokes : null;
          const panelSnapshot = panel;
          const pageId = page.id;
          generate('Sketch → panel', 'generated', async () => {
            let sketchBlob: Blob;
            if (strokes && strokes.length) {
              sketchBlob = await sketchPng(strokes, panelSnapshot, s.width, s.height);
              // The drawn sketch is kept as a hidden layer, so the panel remembers what it came from.
              const asset = await uploadAsset(comic.id, sketchBlob);
              edit((c) => putLayer(c, pageId, panelSnapshot.id, { id: newId('layer'), kind: 'sketch', asset, visible: false, opacity: 1, blend: 'normal' }));
            } else sketchBlob = await blobOfAsset(comic.id, sketchLayer!.asset);
            const image = await toServerInput(sketchBlob, 'sketch');
            return sketchToPanel(s, { image, guide: guide!, kind: guideKind, fidelity });
          });
          setSketch(null);
        }}
      >
        Sketch → panel
      </button>

      <h4>Fix a part</h4>
      {!basePicture && <p className="hint">Inpainting and the detailer work on the panel's picture: generate or add one first.</p>}
      <div className="row">
        <button disabled={!basePicture} onClick={() => togglePainting('mask')} data-testid="paint-mask">
          {painting('mask') ? 'Stop painting' : 'Paint the part to redo'}
        </button>
        {painting('mask') && (
          <button disabled={!sketch!.strokes.length} onClick={() => setSketch({ ...sketch!, strokes: sketch!.strokes.slice(0, -1) })}>
            Undo stroke
          </button>
        )}
        <button
          className="primary"
          disabled={busy || !!textReason || !basePicture || !painting('mask') || !sketch!.strokes.length}
          title={textReason ?? ''}
          data-testid="inpaint"
          onClick={() => {
            const strokes = sketch!.strokes;
            const snapshot = panel;
            const s = { ...settings(), batch: 2 };
            generate(
              'Inpaint',
              'generated',
              async () => {
                const pictureBlob = await blobOfAsset(comic.id, basePicture!.asset);
                const img = await loadImage(assetUrl(comic.id, basePicture!.asset));
                const mask = await maskPng(strokes, snapshot, img.naturalWidth, img.naturalHeight, basePicture!.fit ?? 'cover');
                const [picture, maskName] = await Promise.all([toServerInput(pictureBlob, 'panel'), toServerInput(mask, 'mask')]);
                return inpaintPanel(s, picture, maskName);
              },
              true,
            );
            setSketch(null);
          }}
        >
          Inpaint (2 candidates)
        </button>
      </div>
      <div className="row">
        <button disabled={!basePicture} onClick={() => togglePainting('box')} data-testid="draw-box">
          {painting('box') ? 'Stop' : 'Draw a box to detail'}
        </button>
        <button
          className="primary"
          disabled={busy || !!textReason || !basePicture || !painting('box') || !sketch!.box || sketch!.box.w < 2 || sketch!.box.h < 2}
          title={textReason ?? ''}
          data-testid="detail"
          onClick={() => {
            const b = sketch!.box!;
            const snapshot = panel;
            const s = settings();
            generate(
              'Detailer',
              'generated',
              async () => {
                const img = await loadImage(assetUrl(comic.id, basePicture!.asset));
                const map = frameToImage(basePicture!.fit ?? 'cover', img.naturalWidth, img.naturalHeight, snapshot.w, snapshot.h, snapshot.framing);
                const [x0, y0] = map(b.x, b.y);
                const [x1, y1] = map(b.x + b.w, b.y + b.h);
                const box = { x: Math.max(0, x0), y: Math.max(0, y0), width: Math.min(img.naturalWidth, x1) - Math.max(0, x0), height: Math.min(img.naturalHeight, y1) - Math.max(0, y0) };
                const picture = await toServerInput(await blobOfAsset(comic.id, basePicture!.asset), 'panel');
                return detailBox(s, picture, box);
              },
              true,
            );
            setSketch(null);
          }}
        >
          Detail the box
        </button>
      </div>

      <h4>Colour the line art</h4>
      {sheetCharacters.length > 1 && (
        <label>
          From the sheet of
          <select value={sheetChar?.id} onChange={(e) => setSheetOwner(e.target.value)}>
            {sheetCharacters.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <button
        className="primary"
        disabled={busy || !!colourReason || !info}
        title={colourReason ?? ''}
        data-testid="colour-flat"
        onClick={() =>
          generate('Flat colours', 'flat', async () => {
            const [line, sheet] = await Promise.all([blobOfAsset(comic.id, lineart!.asset), blobOfAsset(comic.id, sheetChar!.sheets[0])]);
            const [lineName, sheetName] = await Promise.all([toServerInput(line, 'lineart'), toServerInput(sheet, 'sheet')]);
            return flatColourPanel(flat!, lineName, sheetName);
          }, false, lineart!.fit ?? 'cover') // the colours sit exactly where the line art is
        }
      >
        Flat colours{sheetChar ? ` from ${sheetChar.name}'s sheet` : ''}
      </button>
      {colourModels.length > 0 && (
        <div className="model-colouring" data-testid="model-colouring">
          <label>
            Colouring model
            <select value={model} onChange={(e) => setColourModel(e.target.value)} data-testid="colour-model-select">
              {colourModels.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </label>
          {model === BUNDLED_MODEL_NAME && <p className="hint" data-testid="bundled-colour-model-hint">{BUNDLED_MODEL_NOTES.colorize}.</p>}
          <label className="inline">
            <input type="checkbox" checked={paletteLock} onChange={(e) => setPaletteLock(e.target.checked)} />
            Palette lock (exactly the sheet's colours)
          </label>
          <label className="inline">
            <input type="checkbox" checked={keepShading} disabled={!paletteLock} onChange={(e) => setKeepShading(e.target.checked)} />
            Shading as its own layer
          </label>
          <button
            className="primary"
            disabled={busy || !lineart || !sheetChar}
            title={!lineart || !sheetChar ? (colourReason ?? '') : ''}
            data-testid="colour-model"
            onClick={() => {
              const { id: pageId } = page;
              const panelId = panel.id;
              const fit = lineart!.fit ?? 'cover';
              const seed = panelSeed(panel, comic.characters, Math.floor(Math.random() * 2 ** 32));
              jobs.start(panelId, 'Colouring', async (cb) => {
                const [line, sheet] = await Promise.all([blobOfAsset(comic.id, lineart!.asset), blobOfAsset(comic.id, sheetChar!.sheets[0])]);
                const [lineName, sheetName] = await Promise.all([toServerInput(line, 'lineart'), toServerInput(sheet, 'sheet')]);
                const prompt = modelColourPanel(lineName, sheetName, { model: model!, steps, seed, paletteLock, keepShading: paletteLock && keepShading });
                const outputs = await runWorkflow(prompt, cb);
                const main = outputs.find((o) => o.node === 'save') ?? outputs[0];
                if (!main) throw new Error('the server finished but sent no picture back');
                const shading = outputs.find((o) => o.node === 'saveShading');
                cb.onStatus?.('adding the pictures to the panel…');
                const colours = await uploadAsset(comic.id, await fetchImage(main));
                const shade = shading ? await uploadAsset(comic.id, await fetchImage(shading)) : null;
                edit((c) => {
                  let next = putLayer(c, pageId, panelId, { id: newId('layer'), kind: 'flat', asset: colours, visible: true, opacity: 1, blend: 'normal', fit, workflow: prompt });
                  if (shade) next = putLayer(next, pageId, panelId, { id: newId('layer'), kind: 'shading', asset: shade, visible: true, opacity: 1, blend: 'overlay', fit, workflow: prompt });
                  return next;
                });
                return { status: shade ? 'done — colours and shading are new layers of this panel' : 'done — the colours are a new layer of this panel' };
              });
            }}
          >
            Colour with {model}
          </button>
        </div>
      )}
      {info && (textReason || colourReason) && (
        <ul className="hint" data-testid="tool-reasons">
          {textReason && <li>Text → panel: {textReason}.</li>}
          {colourReason && <li>Colouring: {colourReason}.</li>}
        </ul>
      )}

    </div>
  );
}

