// Textual-inversion embeddings (`embedding:name` in a prompt): vectors that stand in for tokens.
// Files are safetensors in an embeddings folder, in the layouts people publish:
//   A1111            `emb_params` [n, hidden]
//   SDXL-style pair  `clip_l` [n, 768] / `clip_g` [n, 1280] (the one matching the text width is used)
//   diffusers        one tensor named after its token, [hidden] or [n, hidden]
//   older A1111      `string_to_param.*` [n, hidden]
// They enter the text encoder by extending its token table: embedding vector k gets id vocab + k, so
// the compiled CLIP graph (which takes ids) needs no separate input path.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { ParamData, WeightStore } from '../../graph/weights.ts';
import { overlayWeights } from '../../weights/store.ts';
import { openSafetensors } from '../../weights/safetensors.ts';
import { assertNotPickle } from '../../weights/pickle_guard.ts';
import { CheckpointError } from './family.ts';

export interface Embedding {
  name: string;
  file: string;
  /** [count, hidden] row-major. */
  vectors: Float32Array;
  count: number;
}

export interface EmbeddingLibrary {
  /** Vector count of `name`, or undefined when there is no such embedding (the weightedTokenChunks resolver). */
  count(name: string): number | undefined;
  get(name: string): Embedding;
}

/**
 * Reads one embedding file and returns its vectors for a text encoder of width `hidden`. `tower` names the
 * SDXL-style key to use ('clip_l' / 'clip_g'); without it the width decides (768 → clip_l, 1280 → clip_g).
 */
export function readEmbeddingFile(file: string, hidden: number, name = basename(file, extname(file)), tower?: 'clip_l' | 'clip_g'): Embedding {
  assertNotPickle(file);
  const reader = openSafetensors(file);
  try {
    const keys = [...reader.tensors.keys()];
    const byWidth = hidden === 768 ? 'clip_l' : hidden === 1280 ? 'clip_g' : '';
    const preferred = ['emb_params', tower ?? byWidth, ...keys.filter((k) => k.startsWith('string_to_param'))];
    let key = preferred.find((k) => k && reader.has(k));
    if (!key) {
      const fitting = keys.filter((k) => {
        const s = reader.info(k).shape;
        return s[s.length - 1] === hidden && s.length <= 2;
      });
      if (fitting.length === 1) key = fitting[0];
    }
    if (!key) {
      const shapes = keys.map((k) => `${k} [${reader.info(k).shape.join(',')}]`).join(', ');
      throw new CheckpointError(`embedding ${file}: no tensor of width ${hidden} (the text encoder's) found; it has ${shapes || 'no tensors'}. Is it made for another model family?`);
    }
    const shape = reader.info(key).shape;
    if (shape[shape.length - 1] !== hidden || shape.length > 2 || shape.length === 0) {
      throw new CheckpointError(`embedding ${file}: tensor ${key} has shape [${shape.join(',')}], expected [n, ${hidden}] for this text encoder`);
    }
    const vectors = reader.readF32(key);
    return { name, file, vectors, count: vectors.length / hidden };
  } finally {
    reader.close();
  }
}

/** Embeddings found by name in `dirs` (`<name>.safetensors`, case-insensitive), read on first use. */
export function embeddingLibrary(dirs: readonly string[], hidden: number, tower?: 'clip_l' | 'clip_g'): EmbeddingLibrary {
  const cache = new Map<string, Embedding | null>();
  const find = (name: string): string | undefined => {
    for (const dir of dirs) {
      if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
      for (const cand of [join(dir, name), join(dir, `${name}.safetensors`)]) if (existsSync(cand) && statSync(cand).isFile()) return cand;
      const want = name.toLowerCase();
      const hit = readdirSync(dir).find((f) => extname(f).toLowerCase() === '.safetensors' && basename(f, extname(f)).toLowerCase() === want);
      if (hit) return join(dir, hit);
    }
    return undefined;
  };
  const load = (name: string): Embedding | null => {
    if (!cache.has(name)) {
      const file = find(name);
      cache.set(name, file ? readEmbeddingFile(file, hidden, name, tower) : null);
    }
    return cache.get(name)!;
  };
  return {
    count: (name) => load(name)?.count,
    get(name) {
      const e = load(name);
      if (!e) throw new CheckpointError(`embedding "${name}" not found in ${dirs.length ? dirs.join(', ') : '(no embeddings folder given)'}`);
      return e;
    },
  };
}

export interface ExtendedTokenTable {
  store: WeightStore;
  vocabSize: number;
  /** Id standing for vector `vector` of embedding `name`. */
  idOf(name: string, vector: number): number;
}

const TOKEN_TABLE = 'text_model.embeddings.token_embedding.weight';

/** Appends the embeddings' vectors as new rows of the token table (ids vocab, vocab+1, …). */
export function extendTokenTable(store: WeightStore, embeddings: readonly Embedding[]): ExtendedTokenTable {
  const table = store.get(TOKEN_TABLE);
  if (!table) throw new CheckpointError(`text encoder has no ${TOKEN_TABLE}`);
  if (table.dtype !== 'f32') throw new CheckpointError(`text encoder token table is ${table.dtype}, expected f32`);
  const [vocab, hidden] = table.shape;
  const offsets = new Map<string, number>();
  let rows = vocab;
  for (const e of embeddings) {
    if (offsets.has(e.name)) continue;
    if (e.vectors.length !== e.count * hidden) throw new CheckpointError(`embedding ${e.name}: width ${e.vectors.length / e.count} does not match the text encoder's ${hidden}`);
    offsets.set(e.name, rows);
    rows += e.count;
  }
  if (rows === vocab) return { store, vocabSize: vocab, idOf: (name) => { throw new CheckpointError(`embedding "${name}" was not loaded`); } };
  const data = new Float32Array(rows * hidden);
  data.set(new Float32Array(table.bytes.slice().buffer));
  const h = createHash('sha256');
  for (const e of embeddings) {
    const at = offsets.get(e.name)!;
    data.set(e.vectors, at * hidden);
    h.update(`${e.name}:`).update(new Uint8Array(e.vectors.buffer, e.vectors.byteOffset, e.vectors.byteLength));
  }
  const param: ParamData = { dtype: 'f32', shape: [rows, hidden], bytes: new Uint8Array(data.buffer) };
  return {
    store: overlayWeights(store, new Map([[TOKEN_TABLE, param]]), `embeddings:${h.digest('hex')}`),
    vocabSize: rows,
    idOf(name, vector) {
      const at = offsets.get(name);
      if (at === undefined) throw new CheckpointError(`embedding "${name}" was not loaded`);
      return at + vector;
    },
  };
}
