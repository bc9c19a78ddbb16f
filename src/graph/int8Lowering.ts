// int8 inference lowering: Linears and Convs whose weights are parameters are emitted as ONNX integer
// ops that onnxruntime runs on its VNNI/AMX int8 kernels. Weights are quantised per output channel
// (symmetric, [-127, 127]) at emission; activations are quantised per tensor at run time (dynamic,
// u8 with a zero point), so no calibration is needed. Measured on this CPU (bench/int8Kernels.ts,
// `npm run bench -- int8kernels`): com.microsoft.DynamicQuantizeMatMul is the fastest Linear;
// ConvInteger is slower than the fp32 Conv (no per-channel support, no fast path), QLinearConv is fast
// but requantises its output to 8 bits with a static scale; a u8 im2col (k² shifted windows of the
// quantised NHWC activations) feeding com.microsoft.MatMulIntegerToFloat keeps an exact int32
// accumulation with a float result and is ~3× faster than the fp32 Conv, so Convs use it.
// Everything else — GroupNorm, LayerNorm, attention (softmax included), elementwise ops — stays fp32,
// and so do layers with few channels (the UNet's first and last convs, stems) and the layers before the
// first downsample (a UNet's first level): they cost little and carry the most error per FLOP.
import { type Graph, type Node, GraphError } from './graph.ts';
import { ELEM, attr } from './onnxNames.ts';

export type Precision = 'fp32' | 'int8';

/** Bumped whenever what the int8 lowering emits changes: compile caches key on it. */
export const INT8_LOWERING_VERSION = 3;

export interface Int8Options {
  /** Layers with fewer input or output channels than this stay fp32 (default 32: first/last convs, narrow stems). */
  minChannels?: number;
  /** Parameters whose name contains one of these stay fp32 (for measuring which layers carry the error). */
  keepFp32?: readonly string[];
  /**
   * Quantise only layers whose input is a LayerNorm or attention output, or SiLU(GroupNorm(·)) (default
   * true). Per-tensor u8 activations suit those; inputs on the raw residual stream (skip concatenations,
   * up/downsamplers, proj_out, GEGLU products, the text context) have wide, heavy-tailed ranges, and a
   * transformer's proj_in (plain GroupNorm input) seeds its whole residual stream. Measured on an
   * SD1.5-shaped UNet (channels /5, 256², fan-in random weights): output error 5.7 % quantising all,
   * 3.0 % with residual-stream inputs fp32, 2.2 % with proj_in fp32 too.
   */
  onlyNormalisedInputs?: boolean;
  /**
   * Layers that run before the graph's first strided conv (a UNet's first resolution level, down_blocks.0)
   * stay fp32 (default true). Their error passes through every later layer and, by the skip connections,
   * straight to the output: measured on the SD1.5-shaped UNet (channels /5, 256², four seeds/timesteps),
   * output error 2.28 % (max 2.33) quantising them, 1.48 % (max 1.53) keeping them fp32, for 7 % of the
   * UNet's FLOPs; keeping any other single level fp32 gains at most 0.2 points.
   */
  fp32BeforeDownsample?: boolean;
}

const NORMALISING = new Set(['LayerNorm', 'Attention']);
const LAYOUT = new Set(['Reshape', 'Transpose']);

/** How a quantised weight is laid out: [K, N] int8 with K ordered as the activation columns. */
type WeightLayout = 'linear' | 'conv';

/** `bias`: a following Add of a [N] parameter folded into the quantised MatMul (written to `out`). */
interface LinearSite { kind: 'linear'; x: number; weight: number; bias?: number; out?: number }
interface ConvSite { kind: 'conv'; x: number; weight: number; bias?: number }
type Int8Site = LinearSite | ConvSite;

export interface Int8Plan {
  /** Nodes emitted by the int8 lowering instead of their own record. */
  readonly sites: Map<Node, Int8Site>;
  /** Nodes whose work the int8 lowering absorbed (a Linear's weight Transpose). */
  readonly skip: Set<Node>;
  /** Parameters stored as int8 (name → layout). */
  readonly int8Params: Map<string, WeightLayout>;
  /** Of those, the ones other nodes still read in fp32 (emitted twice). */
  readonly alsoFp32: Set<string>;
}

/** Finds the Linears (x·Wᵀ with W a parameter) and Convs (parameter weights, group 1, no dilation) to quantise. */
export function planInt8(g: Graph, opts: Int8Options = {}, exclude: ReadonlySet<Node> = new Set()): Int8Plan {
  const minC = opts.minChannels ?? 32;
  const kept = (param: number) => (opts.keepFp32 ?? []).some((k) => g.values[param].name!.includes(k));
  const onlyNormalised = opts.onlyNormalisedInputs ?? true;
  const producer = new Map<number, Node>();
  const consumers = new Map<number, Node[]>();
  for (const n of g.nodes) {
    for (const id of n.outputs) producer.set(id, n);
    for (const id of n.inputs) consumers.set(id, [...(consumers.get(id) ?? []), n]);
  }
  const outputs = new Set(g.outputs.map((o) => o.id));
  // A value is "normalised" when it is a LayerNorm/attention output or SiLU of a GroupNorm output (x·σ(x)),
  // seen through layout ops.
  const groupNormed = (id: number): boolean => producer.get(id)?.op === 'GroupNorm';
  const normalised = (id: number, depth = 0): boolean => {
    const p = producer.get(id);
    if (!p || depth > 8) return false;
    if (NORMALISING.has(p.op)) return true;
    if (LAYOUT.has(p.op)) return normalised(p.inputs[0], depth + 1);
    if (p.op === 'Mul') {
      const [a, b] = p.inputs;
      const silu = (x: number, y: number) => producer.get(y)?.op === 'Sigmoid' && producer.get(y)!.inputs[0] === x && groupNormed(x);
      return silu(a, b) || silu(b, a);
    }
    return false;
  };
  const eligibleInput = (x: number) => !onlyNormalised || normalised(x);
  const firstDownsample = (opts.fp32BeforeDownsample ?? true) ? g.nodes.findIndex((n) => n.op === 'Conv' && (n.attrs.strides as number[]).some((s) => s > 1)) : -1;
  const isParam = (id: number) => g.values[id].kind === 'param' && g.values[id].dtype === 'f32';
  const sites = new Map<Node, Int8Site>();
  const skip = new Set<Node>();
  const int8Params = new Map<string, WeightLayout>();
  for (const [i, n] of g.nodes.entries()) {
    if (exclude.has(n) || i < firstDownsample) continue;
    if (n.op === 'Conv') {
      const [x, w, b] = n.inputs;
      const [o, c] = g.values[w].shape;
      const dil = n.attrs.dilations as number[];
      if (!isParam(w) || (n.attrs.group as number) !== 1 || dil.some((d) => d !== 1) || g.values[x].dtype !== 'f32') continue;
      if (o < minC || c < minC || kept(w) || !eligibleInput(x)) continue;
      sites.set(n, { kind: 'conv', x, weight: w, bias: b });
      int8Params.set(g.values[w].name!, 'conv');
    } else if (n.op === 'MatMul') {
      const [x, t] = n.inputs;
      const tr = producer.get(t);
      if (tr?.op !== 'Transpose' || (tr.attrs.perm as number[]).join() !== '1,0' || exclude.has(tr)) continue;
      const w = tr.inputs[0];
      if (!isParam(w) || g.values[w].shape.length !== 2 || g.values[x].dtype !== 'f32' || outputs.has(t)) continue;
      const [outF, inF] = g.values[w].shape;
      if (outF < minC || inF < minC || kept(w) || !eligibleInput(x)) continue;
      if (!(consumers.get(t) ?? []).every((u) => u.op === 'MatMul' && u.inputs[1] === t && !exclude.has(u))) continue;
      const site: LinearSite = { kind: 'linear', x, weight: w };
      const users = consumers.get(n.outputs[0]) ?? [];
      const add = users.length === 1 && !outputs.has(n.outputs[0]) ? users[0] : undefined;
      if (add?.op === 'Add' && add.inputs[0] === n.outputs[0]) {
        const b = add.inputs[1];
        if (g.values[b].kind === 'param' && g.values[b].shape.length === 1 && g.values[b].shape[0] === outF) {
          site.bias = b;
          site.out = add.outputs[0];
          skip.add(add);
        }
      }
      sites.set(n, site);
      skip.add(tr);
      int8Params.set(g.values[w].name!, 'linear');
    }
  }
  // A quantised parameter with any other reader keeps its fp32 initializer too.
  const alsoFp32 = new Set<string>();
  for (const name of int8Params.keys()) {
    const id = g.params.get(name)!;
    for (const u of consumers.get(id) ?? []) {
      const site = sites.get(u);
      const absorbed = (site && site.weight === id && u.op === 'Conv') || (skip.has(u) && (consumers.get(u.outputs[0]) ?? []).every((m) => sites.has(m)));
      if (!absorbed) alsoFp32.add(name);
    }
    if (outputs.has(id)) alsoFp32.add(name);
  }
  return { sites, skip, int8Params, alsoFp32 };
}

export interface QuantizedWeight {
  /** [K, N] int8, row-major. */
  q: Int8Array;
  /** [N] per-output-channel scales: w ≈ q·scale. */
  scale: Float32Array;
  k: number;
  n: number;
}

/**
 * Per-output-channel symmetric int8 of a Linear weight [N, K] (laid out [K, N]) or a Conv weight
 * [N, C, kh, kw] (laid out [(kh, kw, C), N], the order of the im2col columns).
 */
export function quantizeWeight(w: Float32Array, shape: readonly number[], layout: WeightLayout): QuantizedWeight {
  const n = shape[0];
  const per = w.length / n;
  const scale = new Float32Array(n);
  const q = new Int8Array(w.length);
  const [c, kh, kw] = layout === 'conv' ? [shape[1], shape[2], shape[3]] : [per, 1, 1];
  for (let o = 0; o < n; o++) {
    let m = 0;
    for (let i = 0; i < per; i++) m = Math.max(m, Math.abs(w[o * per + i]));
    const s = m > 0 ? m / 127 : 1;
    scale[o] = s;
    for (let ci = 0; ci < c; ci++) {
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const v = w[o * per + (ci * kh + i) * kw + j] / s;
          const r = Math.sign(v) * Math.round(Math.abs(v)); // round half away from zero, as torch does
          q[((i * kw + j) * c + ci) * n + o] = Math.max(-127, Math.min(127, r));
        }
      }
    }
  }
  return { q, scale, k: per, n };
}

/** Initializer names of a quantised parameter. */
export const int8Names = (param: string) => ({ q: `${param}::int8`, scale: `${param}::scale`, zero: `${param}::zero` });

export interface Int8EmitHelpers {
  names: Map<number, string>;
  i64(values: readonly number[]): string;
  /** Constant tensors already emitted, by content key (im2col indices are shared by same-shaped convs). */
  shared: Map<string, string>;
}

/** ONNX nodes for one quantised site. */
export function emitInt8Site(n: Node, site: Int8Site, g: Graph, h: Int8EmitHelpers): object[] {
  const out = h.names.get(n.outputs[0])!;
  const w = int8Names(g.values[site.weight].name!);
  const t = (s: string) => `${out}_q8_${s}`;
  const step = (opType: string, input: string[], output: string[], attribute: object[] = [], domain = '') => ({ opType, input, output, attribute, domain, name: `${opType}_${output[0]}` });
  const x = h.names.get(site.x)!;
  if (site.kind === 'linear') {
    const bias = site.bias === undefined ? [] : [h.names.get(site.bias)!];
    const dst = site.out === undefined ? out : h.names.get(site.out)!;
    return [step('DynamicQuantizeMatMul', [x, w.q, w.scale, w.zero, ...bias], [dst], [], 'com.microsoft')];
  }
  const [nb, , hgt, wid] = g.values[site.x].shape;
  const [oc, , kh, kw] = g.values[site.weight].shape;
  const [sh, sw] = n.attrs.strides as number[];
  const [pt, pl, pb, pr] = n.attrs.pads as number[];
  const oh = Math.floor((hgt + pt + pb - kh) / sh) + 1;
  const ow = Math.floor((wid + pl + pr - kw) / sw) + 1;
  if (oh < 1 || ow < 1) throw new GraphError(`int8 conv ${g.values[site.weight].name}: empty output`);
  const bias = site.bias === undefined ? [] : [h.names.get(site.bias)!];
  const nodes: object[] = [];
  const toNchw = (src: string) => [
    step('Reshape', [src, h.i64([nb, oh, ow, oc])], [t('yhwc')]),
    step('Transpose', [t('yhwc')], [out], [attr('perm', [0, 3, 1, 2], 'ints')]),
  ];
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && pt + pl + pb + pr === 0) {
    nodes.push(
      step('Transpose', [x], [t('nhwc')], [attr('perm', [0, 2, 3, 1], 'ints')]),
      step('DynamicQuantizeMatMul', [t('nhwc'), w.q, w.scale, w.zero, ...bias], [t('y')], [], 'com.microsoft'),
      ...toNchw(t('y')),
    );
    return nodes;
  }
  // Per-tensor quantisation does not care about layout: quantise NCHW, then move bytes (¼ of the floats).
  nodes.push(
    step('DynamicQuantizeLinear', [x], [t('xq'), t('xs'), t('xz')]),
    step('Transpose', [t('xq')], [t('nhwc')], [attr('perm', [0, 2, 3, 1], 'ints')]),
  );
  let src = t('nhwc');
  if (pt + pl + pb + pr > 0) {
    // Padding with the zero point makes padded taps dequantise to exactly 0, as fp32 zero padding.
    nodes.push(step('Pad', [src, h.i64([0, pt, pl, 0, 0, pb, pr, 0]), t('xz')], [t('xp')]));
    src = t('xp');
  }
  // im2col as one Gather: row r of the padded NHWC image flattened to [N·Hp·Wp, C] is pixel r; output
  // pixel p takes the k² rows its window covers (measured ~30 % faster than k² Slices and a Concat).
  const hp = hgt + pt + pb;
  const wp = wid + pl + pr;
  const key = `im2col:${nb}:${hp}:${wp}:${kh}:${kw}:${sh}:${sw}:${oh}:${ow}`;
  let index = h.shared.get(key);
  if (!index) {
    const idx: number[] = new Array(nb * oh * ow * kh * kw);
    let k = 0;
    for (let b = 0; b < nb; b++) for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) idx[k++] = (b * hp + y * sh + i) * wp + x * sw + j;
    }
    index = h.i64(idx);
    h.shared.set(key, index);
  }
  const cols = t('cols');
  nodes.push(
    step('Reshape', [src, h.i64([nb * hp * wp, -1])], [t('rows')]),
    step('Gather', [t('rows'), index], [cols], [attr('axis', 0, 'int')]),
    step('Reshape', [cols, h.i64([nb * oh * ow, -1])], [t('m')]),
    step('MatMulIntegerToFloat', [t('m'), w.q, t('xs'), w.scale, t('xz'), w.zero, ...bias], [t('y')], [], 'com.microsoft'),
    ...toNchw(t('y')),
  );
  return nodes;
}

/** The int8 initializers of one quantised parameter (weights, scales, zero points). */
export function int8Initializers(param: string, qw: QuantizedWeight): { name: string; dims: number[]; dataType: number; bytes: Uint8Array }[] {
  const names = int8Names(param);
  const view = (a: Int8Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return [
    { name: names.q, dims: [qw.k, qw.n], dataType: ELEM_INT8, bytes: view(qw.q) },
    { name: names.scale, dims: [qw.n], dataType: ELEM.f32, bytes: view(qw.scale) },
    { name: names.zero, dims: [qw.n], dataType: ELEM_INT8, bytes: new Uint8Array(qw.n) },
  ];
}

const ELEM_INT8 = 3; // onnx.TensorProto.DataType.INT8
