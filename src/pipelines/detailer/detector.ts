// Region detection with a user-supplied YOLO-style ONNX model (e.g. a face detector exported by
// ultralytics), run by onnxruntime on the CPU (or CUDA). Pre- and post-processing follow ultralytics:
//   letterbox: resize to fit S×S keeping the aspect ratio, pad with grey 114, pixels / 255, NCHW RGB;
//   output YOLOv8 [1, 4 + classes, N] (cx, cy, w, h, class scores) or YOLOv5 [1, N, 5 + classes]
//   (cx, cy, w, h, objectness, class scores); score = best class (× objectness for v5);
//   boxes above the confidence threshold, greedy NMS by IoU, mapped back to image pixels.
// The model file is user data, not an IR graph, so it is opened by path (not through the compile cache).
import { existsSync } from 'node:fs';
import { convertChannels, createImage, type Image } from '../../imaging/image.ts';
import { resizeImage } from '../../imaging/resize.ts';
import { openOnnx, type OnnxModel } from '../../runtime/openOnnx.ts';
import { assertNotPickle } from '../../weights/pickle_guard.ts';

/** A region in image pixels: [x1, y1) – [x2, y2). */
export interface DetectedBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  classId: number;
}

export type YoloFormat = 'auto' | 'yolov8' | 'yolov5';

export interface DetectOptions {
  /** Minimum score (default 0.5, Impact Pack's bbox_threshold). */
  confidence?: number;
  /** NMS IoU threshold (default 0.45). */
  iou?: number;
  /** Keep only these class ids (default all). */
  classes?: readonly number[];
  format?: YoloFormat;
}

export interface Detector {
  readonly inputSize: number;
  detect(image: Image, opts?: DetectOptions): Promise<DetectedBox[]>;
  release(): Promise<void>;
}

export class DetectorError extends Error {
  override name = 'DetectorError';
}

export interface Letterbox {
  /** [1, 3, S, S] in [0, 1]. */
  tensor: Float32Array;
  scale: number;
  padX: number;
  padY: number;
}

/** ultralytics LetterBox (centred, grey 114 padding), as a [1,3,S,S] tensor. */
export function letterbox(image: Image, size: number): Letterbox {
  const rgb = convertChannels(image, 3);
  const scale = Math.min(size / rgb.width, size / rgb.height);
  const w = Math.max(1, Math.round(rgb.width * scale));
  const h = Math.max(1, Math.round(rgb.height * scale));
  const resized = w === rgb.width && h === rgb.height ? rgb : resizeImage(rgb, w, h, 'bilinear');
  const padX = Math.floor((size - w) / 2);
  const padY = Math.floor((size - h) / 2);
  const canvas = createImage(size, size, 3, 114);
  for (let y = 0; y < h; y++) canvas.data.set(resized.data.subarray(y * w * 3, (y + 1) * w * 3), ((y + padY) * size + padX) * 3);
  const n = size * size;
  const tensor = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) tensor[c * n + i] = canvas.data[i * 3 + c] / 255;
  return { tensor, scale, padX, padY };
}

function iou(a: DetectedBox, b: DetectedBox): number {
  const w = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const h = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  const inter = w * h;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/** Decodes a YOLO output tensor into boxes in image pixels (after letterbox `lb`, image `w`×`h`). */
export function decodeYolo(data: Float32Array, dims: readonly number[], lb: Pick<Letterbox, 'scale' | 'padX' | 'padY'>, w: number, h: number, opts: DetectOptions = {}): DetectedBox[] {
  if (dims.length !== 3 || dims[0] !== 1) throw new DetectorError(`detector output must be [1, A, B], got [${dims.join(',')}]`);
  let format = opts.format ?? 'auto';
  if (format === 'auto') {
    // The channel axis is the one that leaves room for class scores; when both could, it is the shorter one.
    const v8ok = dims[1] >= 5;
    const v5ok = dims[2] >= 6;
    format = v8ok && (!v5ok || dims[1] < dims[2]) ? 'yolov8' : 'yolov5';
  }
  const rows = format === 'yolov8' ? dims[2] : dims[1];
  const width = format === 'yolov8' ? dims[1] : dims[2];
  const classes = width - (format === 'yolov8' ? 4 : 5);
  if (classes < 1) throw new DetectorError(`detector output [${dims.join(',')}] has no class scores for the ${format} layout`);
  const at = format === 'yolov8' ? (r: number, k: number) => data[k * rows + r] : (r: number, k: number) => data[r * width + k];
  const conf = opts.confidence ?? 0.5;
  const candidates: DetectedBox[] = [];
  for (let r = 0; r < rows; r++) {
    let best = -Infinity;
    let cls = 0;
    const first = format === 'yolov8' ? 4 : 5;
    for (let c = 0; c < classes; c++) {
      if (opts.classes && !opts.classes.includes(c)) continue;
      const s = at(r, first + c);
      if (s > best) { best = s; cls = c; }
    }
    const score = format === 'yolov5' ? best * at(r, 4) : best;
    if (!(score >= conf)) continue;
    const cx = at(r, 0), cy = at(r, 1), bw = at(r, 2), bh = at(r, 3);
    const map = (v: number, pad: number, max: number) => Math.min(max, Math.max(0, (v - pad) / lb.scale));
    candidates.push({ x1: map(cx - bw / 2, lb.padX, w), y1: map(cy - bh / 2, lb.padY, h), x2: map(cx + bw / 2, lb.padX, w), y2: map(cy + bh / 2, lb.padY, h), score, classId: cls });
  }
  candidates.sort((a, b) => b.score - a.score);
  const kept: DetectedBox[] = [];
  const thr = opts.iou ?? 0.45;
  for (const c of candidates) if (c.x2 > c.x1 && c.y2 > c.y1 && kept.every((k) => k.classId !== c.classId || iou(k, c) <= thr)) kept.push(c);
  return kept;
}

/** Opens a YOLO-style detector .onnx (one image input [1, 3, S, S]). */
export async function loadOnnxDetector(path: string, opts: { provider?: 'cpu' | 'cuda'; threads?: number } = {}): Promise<Detector> {
  if (!existsSync(path)) throw new DetectorError(`detector not found: ${path}`);
  assertNotPickle(path);
  let model: OnnxModel;
  try {
    model = await openOnnx(path, opts);
  } catch (e) {
    throw new DetectorError(`cannot load detector ${path}: ${(e as Error).message}`);
  }
  const input = model.inputs[0];
  if (!input) {
    await model.release();
    throw new DetectorError(`cannot load detector ${path}: the model has no inputs`);
  }
  const shape = input.shape;
  const side = shape && typeof shape[2] === 'number' && shape[2] > 0 ? shape[2] : 640;
  return {
    inputSize: side,
    async detect(image, dopts = {}) {
      const lb = letterbox(image, side);
      const out = await model.run({ [input.name]: { dtype: 'f32', shape: [1, 3, side, side], data: lb.tensor } });
      const t = out[model.outputNames[0]];
      if (t.dtype !== 'f32') throw new DetectorError(`detector output is ${t.dtype}, expected f32`);
      return decodeYolo(t.data as Float32Array, t.shape, lb, image.width, image.height, dopts);
    },
    release: () => model.release(),
  };
}
