// Characters: name, reference sheets, the prompt snippet and LoRA added to their panels' prompts, a
// locked seed for repeatable generations, and a palette taken from the first sheet.
import { useState } from 'react';
import type { Character, Comic } from '../../project/schema.ts';
import { putCharacter, removeCharacter } from '../../project/edits.ts';
import { newCharacter } from '../../project/newDocument.ts';
import { sheetPalette } from '../../render/sheetPalette.ts';
import { assetUrl, uploadAsset } from '../api/projectsApi.ts';
import { describeError } from '../api/http.ts';
import { loadImage } from '../canvas/images.ts';

type Edit = (fn: (c: Comic) => Comic, mergeKey?: string) => void;

async function paletteOf(url: string): Promise<string[]> {
  const img = await loadImage(url);
  const s = Math.min(1, 160 / Math.max(img.naturalWidth, img.naturalHeight));
  const c = document.createElement('canvas');
  c.width = Math.max(1, Math.round(img.naturalWidth * s));
  c.height = Math.max(1, Math.round(img.naturalHeight * s));
  const ctx = c.getContext('2d')!;
  ctx.imageSmoothingEnabled = false; // keep flat colours flat
  ctx.drawImage(img, 0, 0, c.width, c.height);
  return sheetPalette(ctx.getImageData(0, 0, c.width, c.height).data);
}

export function CharactersPanel({ comic, edit, say }: { comic: Comic; edit: Edit; say: (m: string) => void }) {
  const [openId, setOpenId] = useState<string | null>(null);
  return (
    <section className="characters" data-testid="characters">
      <h3>Characters</h3>
      <ul>
        {comic.characters.map((ch) => (
          <li key={ch.id}>
            <button className="page-link" onClick={() => setOpenId(openId === ch.id ? null : ch.id)}>
              {ch.name}
              <span className="swatches">
                {ch.palette.slice(0, 6).map((c) => (
                  <span key={c} className="swatch" style={{ background: c }} />
                ))}
              </span>
            </button>
            {openId === ch.id && <CharacterForm comic={comic} ch={ch} edit={edit} say={say} />}
          </li>
        ))}
      </ul>
      <button
        data-testid="add-character"
        onClick={() => {
          const ch = newCharacter(`Character ${comic.characters.length + 1}`);
          edit((c) => putCharacter(c, ch));
          setOpenId(ch.id);
        }}
      >
        + Character
      </button>
    </section>
  );
}

function CharacterForm({ comic, ch, edit, say }: { comic: Comic; ch: Character; edit: Edit; say: (m: string) => void }) {
  const up = (patch: Partial<Character>, key?: string) => edit((c) => putCharacter(c, { ...(c.characters.find((x) => x.id === ch.id) ?? ch), ...patch }), key);
  return (
    <div className="character-form" data-testid="character-form">
      <label>
        Name
        <input value={ch.name} onChange={(e) => up({ name: e.target.value || ch.name }, `name-${ch.id}`)} />
      </label>
      <label>
        Prompt snippet (added to their panels)
        <input value={ch.promptSnippet} placeholder="e.g. girl, red scarf, short black hair" onChange={(e) => up({ promptSnippet: e.target.value }, `snip-${ch.id}`)} />
      </label>
      <div className="row">
        <label>
          LoRA file
          <input value={ch.lora?.name ?? ''} placeholder="none" onChange={(e) => up({ lora: e.target.value ? { name: e.target.value, strength: ch.lora?.strength ?? 0.8 } : null }, `lora-${ch.id}`)} />
        </label>
        <label>
          Strength
          <input type="number" step={0.05} min={-4} max={4} disabled={!ch.lora} value={ch.lora?.strength ?? 0.8} onChange={(e) => ch.lora && up({ lora: { ...ch.lora, strength: Number(e.target.value) } }, `lora-s-${ch.id}`)} />
        </label>
      </div>
      <label className="inline">
        <input type="checkbox" checked={ch.seed !== null} onChange={(e) => up({ seed: e.target.checked ? Math.floor(Math.random() * 2 ** 32) : null })} />
        Lock seed {ch.seed !== null && <input type="number" value={ch.seed} min={0} onChange={(e) => up({ seed: Math.max(0, Math.floor(Number(e.target.value) || 0)) }, `seed-${ch.id}`)} />}
      </label>
      <div>
        Reference sheets
        <div className="sheets">
          {ch.sheets.map((s) => (
            <img key={s} src={assetUrl(comic.id, s)} alt="reference sheet" />
          ))}
        </div>
        <label className="file-button">
          Add sheet…
          <input
            type="file"
            accept="image/png,image/jpeg,image/webp"
            data-testid="add-sheet"
            onChange={async (e) => {
              const f = e.target.files?.[0];
              e.target.value = '';
              if (!f) return;
              try {
                const name = await uploadAsset(comic.id, f);
                const palette = ch.palette.length ? ch.palette : await paletteOf(assetUrl(comic.id, name)).catch(() => []);
                up({ sheets: [...ch.sheets, name], palette });
              } catch (err) {
                say(`The sheet was not added: ${describeError(err)}`);
              }
            }}
          />
        </label>
      </div>
      <div>
        Palette
        <div className="swatches big">
          {ch.palette.map((c, i) => (
            <input key={i} type="color" value={c} onChange={(e) => up({ palette: ch.palette.with(i, e.target.value) }, `pal-${ch.id}-${i}`)} />
          ))}
        </div>
      </div>
      <button className="danger small" onClick={() => edit((c) => removeCharacter(c, ch.id))}>
        Delete character
      </button>
    </div>
  );
}
