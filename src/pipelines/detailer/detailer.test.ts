// Detector (YOLO output decoding, letterbox, NMS, a real .onnx through onnxruntime) and the detailer
// on the tiny checkpoint: only the regions change, deterministic per seed, boxes from the detector.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGraph } from '../../graph/graph.ts';
import * as op from '../../graph/ops.ts';
import { emitOnnx } from '../../graph/emitOnnx.ts';
import { memoryWeights } from '../../graph/weights.ts';
import { createImage, type Image } from '../../imaging/image.ts';
import { loadCheckpoint, type Checkpoint } from '../../models/checkpoint/loadCheckpoint.ts';
import { assertTinyModels, writeTinyDiffusersCheckpoint } from '../generate/tinyCheckpoint.ts';
import { decodeYolo, letterbox, loadOnnxDetector } from './detector.ts';
import { cropRegion, detail, processingSize } from './detailer.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-detailer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fake YOLOv8 face model: input [1,3,32,32], output [1, 5, 3] constant (cx, cy, w, h, score rows). */
function writeFakeDetector(path: string): void {
  const g = createGraph('fake_yolo');
  const x = g.input('images', 'f32', [1, 3, 32, 32]);
  // anchors: a face at (16,12) 8×8 score 0.9, a duplicate shifted by 1 px (0.8), a weak one (0.1)
  const rows = [[16, 17, 5], [12, 12, 5], [8, 8, 4], [8, 8, 4], [0.9, 0.8, 0.1]];
  const table = op.constant(x, rows.flat(), [1, 5, 3]);
  g.output('output0', op.add(table, op.mul(op.reduceMean(x, [0, 1, 2, 3], false), 0)));
  writeFileSync(path, emitOnnx(g, memoryWeights({})));
}

function pattern(w: number, h: number): Image {
  const img = createImage(w, h, 3);
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 53 + ((i >> 4) * 7)) & 255;
  return img;
}

describe('YOLO detector', () => {
  it('letterboxes like ultralytics (centred, grey 114)', () => {
    const lb = letterbox(createImage(64, 32, 3, 200), 32);
    expect([lb.scale, lb.padX, lb.padY]).toEqual([0.5, 0, 8]);
    expect(lb.tensor[0]).toBeCloseTo(114 / 255, 6); // padding row
    expect(lb.tensor[8 * 32]).toBeCloseTo(200 / 255, 6);
  });

  it('decodes v8 and v5 layouts with thresholds and NMS', () => {
    const lb = { scale: 1, padX: 0, padY: 0 };
    // v8 [1, 4+2, 2]: two boxes of two classes.
    const v8 = Float32Array.from([10, 30, 10, 30, 4, 4, 4, 4, 0.9, 0.1, 0.2, 0.7]);
    const boxes = decodeYolo(v8, [1, 6, 2], lb, 64, 64, { confidence: 0.5, format: 'yolov8' });
    // "auto" picks the axis that leaves room for class scores ([1, N, 2] cannot be v5).
    expect(decodeYolo(v8, [1, 6, 2], lb, 64, 64, { confidence: 0.5 })).toEqual(boxes);
    expect(boxes.map((b) => [b.classId, b.x1, b.y1, b.x2, b.y2])).toEqual([[0, 8, 8, 12, 12], [1, 28, 28, 32, 32]]);
    // v5 [1, 2, 5+1]: score = objectness × class.
    const v5 = Float32Array.from([10, 10, 4, 4, 0.5, 0.9, 11, 10, 4, 4, 0.95, 0.9]);
    const b5 = decodeYolo(v5, [1, 2, 6], lb, 64, 64, { confidence: 0.3 });
    expect(b5).toHaveLength(1); // the overlapping weaker box is suppressed
    expect(b5[0].score).toBeCloseTo(0.855, 6);
    expect(() => decodeYolo(v8, [6, 2], lb, 64, 64)).toThrow(/must be \[1, A, B\]/);
  });

  it('runs a .onnx detector through onnxruntime and maps boxes back through the letterbox', async () => {
    const path = join(dir, 'face.onnx');
    writeFakeDetector(path);
    const det = await loadOnnxDetector(path);
    try {
      expect(det.inputSize).toBe(32);
      const boxes = await det.detect(createImage(64, 32, 3, 90));
      expect(boxes).toHaveLength(1);
      const b = boxes[0];
      expect([b.x1, b.y1, b.x2, b.y2].map((v) => Math.round(v * 1000) / 1000)).toEqual([24, 0, 40, 16]);
      expect(b.score).toBeCloseTo(0.9, 6);
    } finally {
      await det.release();
    }
    await expect(loadOnnxDetector(join(dir, 'missing.onnx'))).rejects.toThrow(/detector not found/);
    writeFileSync(join(dir, 'bad.onnx'), 'not onnx');
    await expect(loadOnnxDetector(join(dir, 'bad.onnx'))).rejects.toThrow(/cannot load detector/);
  });
});

describe('detailer geometry', () => {
  it('enlarges and clamps crops; picks processing sizes on the model grid', () => {
    expect(cropRegion({ x1: 10, y1: 10, x2: 20, y2: 20 }, 3, 100, 100)).toEqual({ x1: 0, y1: 0, x2: 30, y2: 30 });
    expect(cropRegion({ x1: 90, y1: 40, x2: 100, y2: 60 }, 2, 100, 100)).toEqual({ x1: 85, y1: 30, x2: 100, y2: 70 });
    expect(processingSize(100, 50, 512, 1024, 64)).toEqual([512, 256]);
    expect(processingSize(2000, 1000, 512, 1024, 64)).toEqual([1024, 512]);
    expect(processingSize(600, 300, 512, 1024, 8)).toEqual([600, 304]);
  });
});

assertTinyModels();
describe('detailer (tiny checkpoint)', () => {
  let ckpt: Checkpoint;
  beforeAll(async () => {
    ckpt = loadCheckpoint(await writeTinyDiffusersCheckpoint(join(dir, 'tiny')), { cacheDir: false });
  });
  afterAll(async () => ckpt?.release());

  const base = { prompt: 'a detailed face', seed: 5, steps: 4, sampler: 'euler', scheduler: 'normal', cropFactor: 1.5, guideSize: 24, feather: 1 } as const;

  it('re-generates only inside the boxes, deterministically', async () => {
    const image = pattern(48, 32);
    const box = { x1: 8, y1: 8, x2: 24, y2: 24 };
    const r = await detail(ckpt, { ...base, image, boxes: [box] });
    expect(r.regions).toHaveLength(1);
    expect(r.regions[0].crop).toEqual({ x1: 4, y1: 4, x2: 28, y2: 28 });
    expect(r.regions[0].size).toEqual([24, 24]);
    let changed = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 48; x++) {
        for (let c = 0; c < 3; c++) {
          const i = (y * 48 + x) * 3 + c;
          const inside = x >= box.x1 && x < box.x2 && y >= box.y1 && y < box.y2;
          if (!inside) expect(r.image.data[i]).toBe(image.data[i]);
          else if (r.image.data[i] !== image.data[i]) changed++;
        }
      }
    }
    expect(changed).toBeGreaterThan(100);
    const again = await detail(ckpt, { ...base, image, boxes: [box] });
    expect(Buffer.from(again.image.data).equals(Buffer.from(r.image.data))).toBe(true);
  });

  it('takes boxes from an ONNX detector; skips tiny regions; rejects bad input', async () => {
    const path = join(dir, 'face2.onnx');
    writeFakeDetector(path);
    const det = await loadOnnxDetector(path);
    try {
      const image = pattern(64, 32);
      const r = await detail(ckpt, { ...base, image, detector: det });
      expect(r.regions.map((g) => g.box)).toEqual([{ x1: 24, y1: 0, x2: 40, y2: 16 }]);
      for (let i = 0; i < 64 * 3; i++) expect(r.image.data[20 * 64 * 3 + i]).toBe(image.data[20 * 64 * 3 + i]); // row 20 is below the box
      const none = await detail(ckpt, { ...base, image, boxes: [{ x1: 0, y1: 0, x2: 4, y2: 4 }] });
      expect(none.regions).toHaveLength(0);
      expect(Buffer.from(none.image.data).equals(Buffer.from(image.data))).toBe(true);
    } finally {
      await det.release();
    }
    await expect(detail(ckpt, { ...base, image: pattern(16, 16) })).rejects.toThrow(/boxes or a detector/);
    await expect(detail(ckpt, { ...base, image: pattern(16, 16), boxes: [{ x1: 5, y1: 5, x2: 2, y2: 9 }] })).rejects.toThrow(/invalid box/);
    await expect(detail(ckpt, { ...base, image: pattern(16, 16), boxes: [], denoise: 0 })).rejects.toThrow(/denoise/);
  });
});
