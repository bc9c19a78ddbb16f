// What the server has installed, folder by folder, where new files go, and what works without any.
import { useEffect, useState } from 'react';
import { describeError } from '../api/http.ts';
import { listModelFolders, listModels } from '../tools/comfyClient.ts';
import { BUNDLED_MODEL_NAME, BUNDLED_MODEL_NOTES } from '../../workflows/bundledModels.ts';

const FOLDERS: { folder: string; title: string; what: string }[] = [
  { folder: 'checkpoints', title: 'Checkpoints', what: 'Stable Diffusion models (.safetensors) for text → panel, sketch → panel, inpainting and the detailer' },
  { folder: 'loras', title: 'LoRAs', what: 'small add-on files that teach a checkpoint a character or style' },
  { folder: 'controlnet', title: 'ControlNets', what: 'make generations follow your sketch' },
  { folder: 't2i_adapter', title: 'T2I-Adapters', what: 'lighter, faster than a ControlNet: also make generations follow your sketch' },
  { folder: 'colorize', title: 'Colouring models', what: 'Stable Diffusion Reference Only or ColorizeDiffusion, for colouring line art from a sheet with shading' },
  { folder: 'clip_vision', title: 'CLIP vision encoders', what: 'used by reference-based colouring' },
  { folder: 'vae', title: 'VAEs', what: 'optional replacement decoders' },
];

type FolderState = { names: string[] } | { error: string };

export function ModelsPage() {
  const [known, setKnown] = useState<string[] | null>(null);
  const [folders, setFolders] = useState<Record<string, FolderState>>({});
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    listModelFolders().then(
      async (names) => {
        setKnown(names);
        const entries = await Promise.all(
          [...new Set([...FOLDERS.map((f) => f.folder), ...names])].filter((f) => names.includes(f)).map(async (f) => [f, await listModels(f).then((n): FolderState => ({ names: n }), (e): FolderState => ({ error: describeError(e) }))] as const),
        );
        setFolders(Object.fromEntries(entries));
      },
      (e) => setError(describeError(e)),
    );
  }, []);
  const nothing = known !== null && Object.values(folders).every((f) => 'names' in f && f.names.length === 0);
  return (
    <div className="project-list">
      <header className="toolbar">
        <a href="#/" className="brand">
          inkflow studio
        </a>
        <span className="spacer" />
      </header>
      <main data-testid="models-page">
        <h2>Installed models</h2>
        {error && <p className="error-box">{error}</p>}
        {known === null && !error && <p className="muted">Asking the server…</p>}
        {nothing && (
          <div className="note" data-testid="no-models">
            <p>
              <strong>No models are installed yet.</strong> Everything on the page still works: layouts, bubbles, captions, characters, exports, and colouring your line art with the
              flat colouriser, which needs no model.
            </p>
            <p>To generate panels, put a Stable Diffusion checkpoint (.safetensors) in the server's models/checkpoints folder and reload this page.</p>
          </div>
        )}
        {FOLDERS.filter((f) => known?.includes(f.folder)).map((f) => {
          const st = folders[f.folder];
          return (
            <section key={f.folder} className="model-folder">
              <h3>{f.title}</h3>
              <p className="muted">
                {f.what}. Put files in <code>models/{f.folder}/</code>.
              </p>
              {st && 'error' in st && <p className="error-box">{st.error}</p>}
              {st && 'names' in st && (st.names.length ? (
                <ul>
                  {st.names.map((n) => (
                    <li key={n} data-testid={n === BUNDLED_MODEL_NAME ? `bundled-${f.folder}` : undefined}>
                      {n}
                      {n === BUNDLED_MODEL_NAME && BUNDLED_MODEL_NOTES[f.folder] && <span className="muted"> — {BUNDLED_MODEL_NOTES[f.folder]}; nothing to copy</span>}
                    </li>
                  ))}
                </ul>
              ) : <p className="muted">none installed</p>)}
            </section>
          );
        })}
        {known !== null && known.filter((k) => !FOLDERS.some((f) => f.folder === k)).length > 0 && (
          <p className="muted">Other folders the server knows: {known.filter((k) => !FOLDERS.some((f) => f.folder === k)).join(', ')}.</p>
        )}
      </main>
    </div>
  );
}
