// Which tensors of a ControlNet file our graph reads, without reading any data: every parameter the
// ControlNet graph declares is mapped to its file key (diffusers names, or control_model.* LDM names with
// label_emb / input_hint_block / zero_convs / middle_block_out) and its stored shape checked. File keys
// nothing maps to are named, so a file with extra or renamed tensors says exactly what is ignored.
import { downsampleFactor } from '../unet/config.ts';
import { buildControlNetGraph, controlNetWeights, openControlNetCheckpoint, type ControlNetCheckpoint } from './load.ts';

export interface ControlNetKeyCoverage {
  params: number;
  /** Parameters whose tensor exists with the expected shape. */
  found: number;
  /** "<param> → <file key>: why" for parameters without a fitting tensor. */
  missing: string[];
  /** File keys (under the ControlNet prefix) no parameter reads. */
  unused: string[];
  /** The checkpoint as opened (config, layout), for the caller to inspect; its reader is closed. */
  checkpoint: Omit<ControlNetCheckpoint, 'reader'>;
}

/** Key coverage of the ControlNet at `path` (folder or file; config from config.json or inferred). Reads headers only. */
export function controlNetKeyCoverage(path: string): ControlNetKeyCoverage {
  const ckpt = openControlNetCheckpoint(path);
  try {
    const m = downsampleFactor(ckpt.config.unet);
    const graph = buildControlNetGraph(ckpt.config, { batch: 1, height: m, width: m, seqLen: 1 });
    const { fileKey } = controlNetWeights(ckpt);
    const missing: string[] = [];
    const used = new Set<string>();
    let found = 0;
    for (const [name, id] of graph.params) {
      const key = fileKey(name);
      used.add(key);
      const shape = graph.values[id].shape;
      if (!ckpt.reader.has(key)) missing.push(`${name} → ${key}: not in the file`);
      else if (ckpt.reader.info(key).shape.join(',') !== shape.join(',')) missing.push(`${name} → ${key}: file [${ckpt.reader.info(key).shape}] vs expected [${shape}]`);
      else found++;
    }
    const unused = [...ckpt.reader.tensors.keys()].filter((k) => k.startsWith(ckpt.prefix) && !used.has(k)).sort();
    const { reader: _reader, ...rest } = ckpt;
    return { params: graph.params.size, found, missing, unused, checkpoint: rest };
  } finally {
    ckpt.reader.close();
  }
}
