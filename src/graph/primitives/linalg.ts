// MatMul, Conv and ConvTranspose. Conv's backward follows the measured fast paths (ARCHITECTURE §1):
// dX through ConvTranspose (~227 GFLOPS), or for stride-1 convs on large images a plain Conv with the
// kernel flipped and its channel axes swapped (ORT's direct NCHWc Conv beats ConvTranspose's GEMM +
// col2im there), dW as one MatMul per kernel tap over shifted strided slices (~182 GFLOPS) — never the
// "transposed conv" trick for dW, which ran 3× slower.
import { type Attrs, type Shape, type Tensor, numel, fmtShape } from '../graph.ts';
import type { OpRecord, ValueType } from '../opRecord.ts';
import type * as Ops from '../ops.ts';
import { forEachConvTap, matmulKernel, type ConvGeometry } from '../hostKernels.ts';
import { broadcastShapes, fail, sameDType } from './typeRules.ts';
import { unbroadcast } from './unbroadcast.ts';

const swapLast = (op: typeof Ops, t: Tensor): Tensor => {
  const r = t.shape.length;
  return op.transpose(t, [...Array(r - 2).keys(), r - 1, r - 2]);
};

function geometry(attrs: Attrs): ConvGeometry {
  return { strides: attrs.strides as number[], pads: attrs.pads as number[], dilations: attrs.dilations as number[], group: attrs.group as number };
}

function convAttrs(c: { attr: (n: string, v: readonly number[] | number, k: 'ints' | 'int') => object; attrs: Attrs }, w: ValueType): object[] {
  const a = c.attrs;
  return [c.attr('strides', a.strides as number[], 'ints'), c.attr('pads', a.pads as number[], 'ints'), c.attr('dilations', a.dilations as number[], 'ints'), c.attr('group', a.group as number, 'int'), c.attr('kernel_shape', w.shape.slice(2), 'ints')];
}

/** Swaps the first two axes; a reshape when either is 1 (batch-1 training), else a Transpose. */
function swap01(op: typeof Ops, t: Tensor): Tensor {
  const [a, b, ...rest] = t.shape;
  return a === 1 || b === 1 ? op.reshape(t, [b, a, ...rest]) : op.transpose(t, [1, 0, ...rest.map((_, i) => i + 2)]);
}

/**
 * dL/dW of y = conv(x, W) given gy = dL/dy: for each kernel tap (ky, kx), the strided window of the
 * padded input that the tap saw, as a [C/G, N·oh·ow] matrix, times gy as [O/G, N·oh·ow]ᵀ. ConvTranspose's
 * weight gradient is the same sum with the two activations exchanged (it is Conv's adjoint).
 */
export function convWeightGrad(op: typeof Ops, x: Tensor, gy: Tensor, wShape: Shape, geo: ConvGeometry): Tensor {
  const [n, c] = x.shape;
  const [, o, oh, ow] = gy.shape;
  const [, cg, kh, kw] = wShape;
  const { strides: s, pads: p, dilations: d, group } = geo;
  const og = o / group;
  const padded = p.some((v) => v > 0) ? op.pad(x, [0, 0, p[0], p[1], 0, 0, p[2], p[3]]) : x;
  const xc = swap01(op, padded); // [C, N, Hp, Wp]
  const gt = op.reshape(swap01(op, gy), [o, n * oh * ow]);
  const groups: Tensor[] = [];
  for (let gi = 0; gi < group; gi++) {
    const gtg = group === 1 ? gt : op.slice(gt, [0], [gi * og], [(gi + 1) * og]);
    const taps: Tensor[] = [];
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const window = op.slice(xc, [0, 2, 3], [gi * cg, ky * d[0], kx * d[1]], [(gi + 1) * cg, ky * d[0] + (oh - 1) * s[0] + 1, kx * d[1] + (ow - 1) * s[1] + 1], [1, s[0], s[1]]);
        const cols = op.reshape(window, [cg, n * oh * ow]);
        taps.push(op.reshape(op.matmul(gtg, op.transpose(cols, [1, 0])), [og, cg, 1]));
      }
    }
    groups.push(op.reshape(op.concat(taps, 2), [og, cg, kh, kw]));
  }
  return op.concat(groups, 0);
}

/**
 * Output pixels from which a stride-1 conv's input gradient is taken as a Conv with the flipped kernel.
 * Measured dX per layer, f16-stored weights, ConvTranspose vs flipped Conv (load ~19, 2 cores):
 * 320 ch 64²: 553 vs 309 ms; 640 ch 32²: 435 vs 459 ms; 1280 ch 16²: 383 vs 845 ms (reordering the
 * weight each step costs more than the smaller image gains).
 */
const FLIPPED_CONV_MIN_PIXELS = 64 * 64;

/**
 * dL/dx of a stride-1, ungrouped y = conv(x, W) as conv(gy, W'), W'[c, o, i, j] = W[o, c, kh−1−i, kw−1−j],
 * padded by d·(k−1) − p on each side; undefined when that padding would be negative.
 */
function flippedConvInputGrad(op: typeof Ops, g: Tensor, w: Tensor, geo: ConvGeometry): Tensor | undefined {
  const [o, c, kh, kw] = w.shape;
  const d = geo.dilations;
  const p = geo.pads;
  const pads = [d[0] * (kh - 1) - p[0], d[1] * (kw - 1) - p[1], d[0] * (kh - 1) - p[2], d[1] * (kw - 1) - p[3]];
  if (pads.some((v) => v < 0)) return undefined;
  let taps = op.reshape(w, [o, c, kh * kw]);
  // Reversing the flattened taps flips both kernel axes in one Gather.
  if (kh * kw > 1) taps = op.gather(taps, op.constant(w, Array.from({ length: kh * kw }, (_, i) => kh * kw - 1 - i), [kh * kw], 'i64'), 2);
  const flipped = op.reshape(op.transpose(taps, [1, 0, 2]), [c, o, kh, kw]);
  return op.conv(g, flipped, undefined, { pads: pads as [number, number, number, number], dilations: d as [number, number] });
}

function checkConv(name: string, x: ValueType, w: ValueType, attrs: Attrs): { oc: number; group: number } {
  sameDType(name, x, w);
  if (x.shape.length !== 4) fail(name, `input must be NCHW, got ${fmtShape(x.shape)}`);
  if (w.shape.length !== 4) fail(name, `weight must be 4-D, got ${fmtShape(w.shape)}`);
  return { oc: w.shape[0], group: attrs.group as number };
}

export const LINALG: Record<string, OpRecord> = {
  MatMul: {
    infer([a, b]) {
      sameDType('MatMul', a, b);
      if (a.shape.length < 2 || b.shape.length < 2) fail('MatMul', `inputs need rank ≥ 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
      const [m, k] = a.shape.slice(-2);
      const [k2, n] = b.shape.slice(-2);
      if (k !== k2) fail('MatMul', `inner dimensions differ: ${fmtShape(a.shape)} × ${fmtShape(b.shape)}`);
      const batch = broadcastShapes('MatMul', a.shape.slice(0, -2), b.shape.slice(0, -2));
      return { dtype: a.dtype, shape: [...batch, m, n] };
    },
    emit: (c) => [c.node('MatMul')],
    interpret: ([a, b], _attrs, out) => matmulKernel(a, b, out),
    vjp({ op, grad: g, inputs: [a, b], wants }) {
      const da = wants[0] ? unbroadcast(op, op.matmul(g, swapLast(op, b)), a.shape) : undefined;
      let db: Tensor | undefined;
      if (wants[1]) {
        const k = a.shape[a.shape.length - 1];
        const n = b.shape[b.shape.length - 1];
        // A weight shared over a batch (Linear on [B,S,in]): one [k, B·S]×[B·S, n] product, not B products then a sum.
        db = b.shape.length === 2 && a.shape.length > 2
          ? op.matmul(op.transpose(op.reshape(a, [-1, k]), [1, 0]), op.reshape(g, [-1, n]))
          : unbroadcast(op, op.matmul(swapLast(op, a), g), b.shape);
      }
      return [da, db];
    },
  },

  // Conv(x[N,C,H,W], w[O,C/group,kh,kw], b[O]?); attrs strides, pads [t,l,b,r], dilations, group.
  Conv: {
    infer([x, w, b], attrs) {
      const { oc, group } = checkConv('Conv', x, w, attrs);
      const [n, c, h, wd] = x.shape;
      const [, ci, kh, kw] = w.shape;
      const st = attrs.strides as number[];
      const pads = attrs.pads as number[];
      const dil = attrs.dilations as number[];
      if (c !== ci * group) fail('Conv', `input has ${c} channels but weight ${fmtShape(w.shape)} with group ${group} expects ${ci * group}`);
      if (oc % group !== 0) fail('Conv', `output channels ${oc} not divisible by group ${group}`);
      if (b && (b.shape.length !== 1 || b.shape[0] !== oc)) fail('Conv', `bias must be [${oc}], got ${fmtShape(b.shape)}`);
      const oh = Math.floor((h + pads[0] + pads[2] - dil[0] * (kh - 1) - 1) / st[0]) + 1;
      const ow = Math.floor((wd + pads[1] + pads[3] - dil[1] * (kw - 1) - 1) / st[1]) + 1;
      if (oh <= 0 || ow <= 0) fail('Conv', `output would be empty for input ${fmtShape(x.shape)} and kernel ${kh}×${kw}`);
      return { dtype: x.dtype, shape: [n, oc, oh, ow] };
    },
    emit: (c) => [c.node('Conv', convAttrs(c, c.inTypes[1]))],
    interpret([x, w, b], attrs, out) {
      const res = new Float64Array(numel(out));
      if (b) {
        const [, o, oh, ow] = out;
        for (let i = 0; i < res.length; i++) res[i] = b.data[Math.floor(i / (oh * ow)) % o];
      }
      forEachConvTap(x.shape, w.shape, out, geometry(attrs), (xi, wi, yi) => (res[yi] += x.data[xi] * w.data[wi]));
      return res;
    },
    vjp({ op, grad: g, inputs: [x, w, b], attrs, wants }) {
      const geo = geometry(attrs);
      let dx: Tensor | undefined;
      const flippedFits = geo.group === 1 && geo.strides.every((v) => v === 1) && g.shape[2] * g.shape[3] >= FLIPPED_CONV_MIN_PIXELS;
      if (wants[0] && flippedFits) dx = flippedConvInputGrad(op, g, w, geo);
      if (wants[0] && !dx) {
        // ConvTranspose recovers the input size up to the rows a strided conv never read: output_padding adds them back.
        const base = (i: number) => (g.shape[2 + i] - 1) * geo.strides[i] - geo.pads[i] - geo.pads[i + 2] + geo.dilations[i] * (w.shape[2 + i] - 1) + 1;
        dx = op.convTranspose(g, w, { strides: geo.strides as [number, number], pads: geo.pads as [number, number, number, number], dilations: geo.dilations as [number, number], group: geo.group, outputPadding: [x.shape[2] - base(0), x.shape[3] - base(1)] });
      }
      const dw = wants[1] ? convWeightGrad(op, x, g, w.shape, geo) : undefined;
      const db = b && wants[2] ? op.reduceSum(g, [0, 2, 3], false) : undefined;
      return b ? [dx, dw, db] : [dx, dw];
    },
  },

  // ConvTranspose(x[N,Cin,H,W], w[Cin,Cout/group,kh,kw]): Conv's adjoint; attrs as Conv plus outputPadding.
  ConvTranspose: {
    infer([x, w], attrs) {
      const { group } = checkConv('ConvTranspose', x, w, attrs);
      const [n, c, h, wd] = x.shape;
      const [ci, co, kh, kw] = w.shape;
      if (c !== ci) fail('ConvTranspose', `input has ${c} channels but weight ${fmtShape(w.shape)} expects ${ci}`);
      if (c % group !== 0) fail('ConvTranspose', `input channels ${c} not divisible by group ${group}`);
      const st = attrs.strides as number[];
      const pads = attrs.pads as number[];
      const dil = attrs.dilations as number[];
      const opad = attrs.outputPadding as number[];
      if (opad.some((v, i) => v < 0 || v >= Math.max(st[i], dil[i]))) fail('ConvTranspose', `output padding ${fmtShape(opad)} must be below the stride or dilation`);
      const oh = (h - 1) * st[0] - pads[0] - pads[2] + dil[0] * (kh - 1) + opad[0] + 1;
      const ow = (wd - 1) * st[1] - pads[1] - pads[3] + dil[1] * (kw - 1) + opad[1] + 1;
      if (oh <= 0 || ow <= 0) fail('ConvTranspose', `output would be empty for input ${fmtShape(x.shape)}`);
      return { dtype: x.dtype, shape: [n, co * group, oh, ow] };
    },
    emit: (c) => [c.node('ConvTranspose', [...convAttrs(c, c.inTypes[1]), c.attr('output_padding', c.attrs.outputPadding as number[], 'ints')])],
    interpret([x, w], attrs, out) {
      const res = new Float64Array(numel(out));
      // As the adjoint of Conv(out-space → x-space): each Conv tap that would read res[big] into x[small] writes back.
      forEachConvTap(out, w.shape, x.shape, geometry(attrs), (bigI, wi, smallI) => (res[bigI] += x.data[smallI] * w.data[wi]));
      return res;
    },
    vjp({ op, grad: g, inputs: [x, w], attrs, wants }) {
      const geo = geometry(attrs);
      const dx = wants[0] ? op.conv(g, w, undefined, { strides: geo.strides as [number, number], pads: geo.pads as [number, number, number, number], dilations: geo.dilations as [number, number], group: geo.group }) : undefined;
      const dw = wants[1] ? convWeightGrad(op, g, x, w.shape, geo) : undefined;
      return [dx, dw];
    },
  },
};
