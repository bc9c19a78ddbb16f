// Emits convolutions in onnxruntime's blocked NCHWc form (domain com.microsoft.nchwc) ourselves, so a session
// needs no layout-level optimisation to get ORT's fastest CPU convolutions.
//
// Why: ORT's NCHWc transformer (optimisation level "all") makes convs ~8 % faster per UNet step, but on a
// 3.4 GB SD1.5 UNet it also copied every conv filter several times while reordering it (session creation 9.8 s
// at "all" vs 3.1 s at "extended", RSS 3.8 vs 1.3 GB). Written in the blocked layout at emission, the filters
// go to the weights file once and ORT has nothing left to convert.
//
// The rewrite mirrors what ORT 1.30's transformer makes of our graphs (checked against its saved optimised
// SD1.5 UNet, filter bytes included), so the session runs the same kernels with the same fusions:
//  - a Conv with a constant f32 filter (group 1; a filter shared only by such convs is stored blocked once)
//    becomes an NCHWc Conv. Its input is reordered once per tensor (ReorderInput, which zero-pads channels to
//    the block), or, below one block of input channels, read as plain NCHW with the filter in OIHWBo order;
//  - an Add of two same-shaped NCHWc tensors is folded into the single-use conv producing one of them (its
//    fourth, "Sum" input), else runs on the blocked tensors; Mul likewise runs blocked;
//  - Relu/Sigmoid/Tanh of a single-use conv become its `activation`, else run blocked;
//  - a nearest ×s Resize of an NCHWc tensor becomes the NCHWc Upsample; a channel Concat of NCHWc tensors
//    whose channels fill whole blocks stays blocked;
//  - a Transpose NCHW→NHWC (into attention) of an NCHWc tensor becomes a channels-last ReorderOutput, and a
//    Transpose NHWC→NCHW read only by a converted conv becomes a channels-last ReorderInput;
//  - every other use reads the NCHW tensor back through one ReorderOutput per tensor.
// Filter layouts (B = block, 16 with AVX-512, 8 with AVX2; I' = I rounded up to B): OIHWBiBo stores
// w[o][i][kh][kw] at ((((o/B)·(I'/B) + i/B)·KH + kh)·KW + kw)·B² + (i%B)·B + o%B; OIHWBo (I < B) at
// (((o/B)·I + i)·KH + kh)·KW + kw)·B + o%B. Padding channels (output to a multiple of B, filter and bias;
// input to I') are zeros, as ORT makes them.
import onnxProto from 'onnx-proto';
import { attr } from './onnxNames.ts';

const { onnx } = onnxProto;

export const NCHWC_DOMAIN = 'com.microsoft.nchwc';

/** An ONNX node as the emitter builds it (plain object, encoded by onnx-proto). */
export interface OnnxNode {
  opType: string;
  input: string[];
  output: string[];
  attribute?: object[];
  name?: string;
  domain?: string;
}

export type FilterLayout = 'OIHWBiBo' | 'OIHWBo';

/** How a conv filter parameter is stored in NCHWc form. */
export interface NchwcFilter {
  layout: FilterLayout;
  /** [O, I, KH, KW] as the graph declares it. */
  shape: readonly number[];
  /** O rounded up to the block. */
  paddedOut: number;
  /** I rounded up to the block (OIHWBiBo; I itself for OIHWBo). */
  paddedIn: number;
}

export interface NchwcGraphFacts {
  /** Shape of a value at an IR boundary (input, parameter, node output). */
  shapeOf(name: string): readonly number[] | undefined;
  /** True when `name` is an f32 parameter stored as an initializer under that name (not cast, not quantised). */
  isF32Param(name: string): boolean;
  /** Values of a small constant f32 initializer (Resize scales). */
  constFloats(name: string): readonly number[] | undefined;
}

export interface NchwcRewrite {
  nodes: OnnxNode[];
  /** Filter parameters to store reordered. */
  filters: Map<string, NchwcFilter>;
  /** Bias parameters to store zero-padded to this many channels. */
  paddedBiases: Map<string, number>;
}

const roundUp = (n: number, b: number) => Math.ceil(n / b) * b;
const isDefault = (n: OnnxNode) => !n.domain;

/** The integer value of an int attribute, if set. */
function intAttr(n: OnnxNode, name: string): number | undefined {
  const a = (n.attribute as { name: string; i?: number | { toNumber(): number } }[] | undefined)?.find((x) => x.name === name);
  if (!a || a.i === undefined) return undefined;
  return typeof a.i === 'number' ? a.i : a.i.toNumber();
}

function intsAttr(n: OnnxNode, name: string): number[] | undefined {
  const a = (n.attribute as { name: string; ints?: (number | { toNumber(): number })[] }[] | undefined)?.find((x) => x.name === name);
  return a?.ints?.map((v) => (typeof v === 'number' ? v : v.toNumber()));
}

function stringAttr(n: OnnxNode, name: string): string | undefined {
  const a = (n.attribute as { name: string; s?: Uint8Array }[] | undefined)?.find((x) => x.name === name);
  return a?.s ? new TextDecoder().decode(a.s) : undefined;
}

/** Where a blocked tensor stands for an NCHW one. */
interface Blocked {
  name: string;
  channels: number;
  /** The NCHWc Conv that produced it, while a Sum or activation may still be folded into that conv. */
  conv?: OnnxNode;
  /** Uses of the NCHW tensor not yet served by the blocked one; any left need a ReorderOutput. */
  remaining: number;
}

/** Rewrites `nodes` (topologically ordered) into NCHWc form for block size `block`; see the file comment. */
export function toNchwc(nodes: readonly OnnxNode[], block: number, facts: NchwcGraphFacts): NchwcRewrite {
  const uses = new Map<string, number>();
  for (const n of nodes) for (const i of n.input) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
  const useCount = (name: string) => uses.get(name) ?? 0;
  const producer = new Map<string, OnnxNode>();
  for (const n of nodes) for (const o of n.output) producer.set(o, n);
  // A filter (or bias) is stored blocked only when every reader is a Conv that reads it as one (a training
  // graph's ConvTranspose reading the same weight needs the plain layout).
  const filterUses = new Map<string, number>();
  for (const n of nodes) {
    if (!isDefault(n) || n.opType !== 'Conv') continue;
    for (const p of n.input.slice(1, 3)) if (p) filterUses.set(p, (filterUses.get(p) ?? 0) + 1);
  }
  /** NHWC→NCHW Transposes read only by a converted conv: its ReorderInput reads NHWC directly instead. */
  const absorbed = new Set<string>();

  const filters = new Map<string, NchwcFilter>();
  const paddedBiases = new Map<string, number>();
  const blocked = new Map<string, Blocked>();
  const reordered = new Map<string, string>();
  const out: (OnnxNode | undefined)[] = [];
  let fresh = 0;
  const newName = (base: string) => `${base}::nchwc${fresh++ || ''}`;

  const blockedInput = (name: string): string => {
    const b = blocked.get(name);
    if (b) {
      b.remaining--;
      return b.name;
    }
    let r = reordered.get(name);
    if (!r) {
      r = newName(name);
      reordered.set(name, r);
      const t = producer.get(name);
      const fromNhwc = t && isDefault(t) && t.opType === 'Transpose' && intsAttr(t, 'perm')?.join() === '0,3,1,2' && useCount(name) === 1;
      if (fromNhwc) absorbed.add(name);
      out.push({ opType: 'ReorderInput', input: [fromNhwc ? t.input[0] : name], output: [r], attribute: [attr('channels_last', fromNhwc ? 1 : 0, 'int')], name: `ReorderInput_${r}`, domain: NCHWC_DOMAIN });
    }
    return r;
  };
  const produce = (n: OnnxNode, channels: number, conv?: OnnxNode): void => {
    const original = n.output[0];
    const name = newName(original);
    n.output = [name];
    blocked.set(original, { name, channels, conv, remaining: useCount(original) });
  };

  const convertConv = (n: OnnxNode): OnnxNode | undefined => {
    const [x, w, bias] = n.input;
    const shape = facts.shapeOf(w);
    if (!facts.isF32Param(w) || useCount(w) !== filterUses.get(w) || shape?.length !== 4 || (intAttr(n, 'group') ?? 1) !== 1) return undefined;
    if (facts.shapeOf(x)?.length !== 4) return undefined;
    const [o, i] = shape;
    const layout: FilterLayout = i < block ? 'OIHWBo' : 'OIHWBiBo';
    const paddedOut = roundUp(o, block);
    const paddedIn = layout === 'OIHWBo' ? i : roundUp(i, block);
    if (bias && !facts.isF32Param(bias)) return undefined;
    if (bias && paddedOut !== o && useCount(bias) !== filterUses.get(bias)) return undefined;
    filters.set(w, { layout, shape, paddedOut, paddedIn });
    if (bias && paddedOut !== o) paddedBiases.set(bias, paddedOut);
    const input = [layout === 'OIHWBo' ? x : blockedInput(x), w, ...(bias ? [bias] : [])];
    const conv: OnnxNode = { ...n, input, domain: NCHWC_DOMAIN, name: `${n.name ?? 'Conv'}_nchwc` };
    produce(conv, o, conv);
    return conv;
  };

  /** Both inputs blocked, with the same channels and the same (static) shape: no broadcasting. */
  const blockedPair = (n: OnnxNode): [Blocked, Blocked] | undefined => {
    if (n.input.length !== 2) return undefined;
    const [a, b] = n.input.map((i) => blocked.get(i));
    if (!a || !b || a.channels !== b.channels) return undefined;
    const [sa, sb] = n.input.map((i) => facts.shapeOf(i));
    if (!sa || !sb || sa.length !== sb.length || sa.some((d, k) => d !== sb[k])) return undefined;
    return [a, b];
  };
  /** The conv behind `b` when `input` is its only use and it can still take an activation (or, `forSum`, a Sum input). */
  const foldableConv = (input: string, b: Blocked, forSum: boolean) =>
    b.conv && useCount(input) === 1 && !(forSum && b.conv.input.length >= 4) && intAttrAbsent(b.conv, 'activation') ? b.conv : undefined;

  for (const node of nodes) {
    const n: OnnxNode = { ...node };
    if (isDefault(n) && n.opType === 'Conv') {
      const conv = convertConv(n);
      out.push(conv ?? n);
      continue;
    }
    if (isDefault(n) && (n.opType === 'Add' || n.opType === 'Mul')) {
      const pair = blockedPair(n);
      if (pair) {
        const original = n.output[0];
        if (n.opType === 'Add') {
          const k = [0, 1].find((j) => foldableConv(n.input[j], pair[j], true));
          if (k !== undefined) {
            const target = pair[k];
            const conv = target.conv!;
            const other = pair[1 - k];
            other.remaining--;
            target.remaining--;
            conv.input = [conv.input[0], conv.input[1], conv.input[2] ?? '', other.name];
            // The conv now also reads the other addend: it moves here, where both exist.
            out[out.indexOf(conv)] = undefined;
            out.push(conv);
            blocked.set(original, { name: target.name, channels: target.channels, conv, remaining: useCount(original) });
            continue;
          }
        }
        pair[0].remaining--;
        pair[1].remaining--;
        n.input = [pair[0].name, pair[1].name];
        produce(n, pair[0].channels);
        out.push(n);
        continue;
      }
    }
    if (isDefault(n) && (n.opType === 'Relu' || n.opType === 'Sigmoid' || n.opType === 'Tanh') && blocked.has(n.input[0])) {
      const b = blocked.get(n.input[0])!;
      const conv = foldableConv(n.input[0], b, false);
      b.remaining--;
      if (conv) {
        conv.attribute = [...(conv.attribute ?? []), attr('activation', n.opType, 'string')];
        blocked.set(n.output[0], { name: b.name, channels: b.channels, remaining: useCount(n.output[0]) });
        continue;
      }
      n.input = [b.name];
      produce(n, b.channels);
      out.push(n);
      continue;
    }
    if (isDefault(n) && n.opType === 'Concat' && intAttr(n, 'axis') === 1 && n.input.every((i) => blocked.get(i) && blocked.get(i)!.channels % block === 0)) {
      // Channel blocks are whole, so concatenating blocked tensors along channels is a plain Concat.
      const parts = n.input.map((i) => blocked.get(i)!);
      for (const b of parts) b.remaining--;
      n.input = parts.map((b) => b.name);
      produce(n, parts.reduce((c, b) => c + b.channels, 0));
      out.push(n);
      continue;
    }
    if (isDefault(n) && n.opType === 'Transpose' && blocked.has(n.input[0]) && intsAttr(n, 'perm')?.join() === '0,2,3,1') {
      // NCHW→NHWC (into attention): one ReorderOutput writes the channels-last tensor.
      const b = blocked.get(n.input[0])!;
      b.remaining--;
      out.push({
        opType: 'ReorderOutput', input: [b.name], output: n.output, name: `ReorderOutput_${n.output[0]}`, domain: NCHWC_DOMAIN,
        attribute: [attr('channels_last', 1, 'int'), attr('channels', b.channels, 'int')],
      });
      continue;
    }
    if (isDefault(n) && n.opType === 'Resize' && blocked.has(n.input[0])) {
      const scales = nearestScales(n, facts);
      if (scales) {
        const b = blocked.get(n.input[0])!;
        b.remaining--;
        const up: OnnxNode = {
          opType: 'Upsample', input: [b.name], output: n.output, name: `${n.name ?? 'Resize'}_nchwc`, domain: NCHWC_DOMAIN,
          attribute: [attr('scales', scales, 'ints'), attr('mode', 'nearest', 'string'), attr('coordinate_transformation_mode', 'asymmetric', 'string')],
        };
        produce(up, b.channels);
        out.push(up);
        continue;
      }
    }
    out.push(n);
  }

  for (const [original, b] of blocked) {
    if (b.remaining <= 0) continue;
    out.push({
      opType: 'ReorderOutput', input: [b.name], output: [original], name: `ReorderOutput_${original}`, domain: NCHWC_DOMAIN,
      attribute: [attr('channels_last', 0, 'int'), attr('channels', b.channels, 'int')],
    });
  }
  return { nodes: topologicalOrder(out.filter((n): n is OnnxNode => n !== undefined && !absorbed.has(n.output[0]))), filters, paddedBiases };
}

function intAttrAbsent(n: OnnxNode, name: string): boolean {
  return !(n.attribute as { name: string }[] | undefined)?.some((a) => a.name === name);
}

/** Integer [1, 1, sh, sw] scales of a nearest/asymmetric/floor Resize, the only kind NCHWc Upsample does. */
function nearestScales(n: OnnxNode, facts: NchwcGraphFacts): number[] | undefined {
  if (stringAttr(n, 'mode') !== 'nearest' || stringAttr(n, 'coordinate_transformation_mode') !== 'asymmetric' || stringAttr(n, 'nearest_mode') !== 'floor') return undefined;
  if (n.input.length !== 3) return undefined;
  const s = facts.constFloats(n.input[2]);
  if (!s || s.length !== 4 || s[0] !== 1 || s[1] !== 1 || !s.every((v) => Number.isInteger(v) && v > 0)) return undefined;
  return [...s];
}

/**
 * Nodes in an order where each input is produced before it is read (stable: nodes keep their relative order
 * when they can). The rewrite moves Sum-fused convs and appends ReorderOutputs; ONNX wants a sorted graph.
 */
function topologicalOrder(nodes: readonly OnnxNode[]): OnnxNode[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.output.forEach((o) => producer.set(o, i)));
  const waiting = nodes.map((n) => new Set(n.input.filter((i) => producer.has(i))));
  const readers = new Map<number, number[]>();
  nodes.forEach((n, i) => waiting[i].forEach((name) => {
    const p = producer.get(name)!;
    readers.set(p, [...(readers.get(p) ?? []), i]);
  }));
  const pendingInputs = waiting.map((s) => s.size);
  const done: OnnxNode[] = [];
  // A min-heap would keep the original order exactly; the ready list sorted by index is enough at these sizes.
  const ready: number[] = [];
  pendingInputs.forEach((c, i) => c === 0 && ready.push(i));
  while (ready.length) {
    ready.sort((a, b) => a - b);
    const i = ready.shift()!;
    done.push(nodes[i]);
    for (const r of readers.get(i) ?? []) if (--pendingInputs[r] === 0) ready.push(r);
  }
  if (done.length !== nodes.length) throw new Error('nchwcLayout: the rewritten graph has a cycle');
  return done;
}

/**
 * `w` ([O, I, KH, KW], f32) in the NCHWc layout, channels zero-padded to `paddedOut` and `paddedIn`. Written
 * in destination order, one block of output channels at a time: the reads stay within a few KB of rows and the
 * writes are sequential (~1.7 ns a value here at block 16; an SD1.5 UNet has 0.4 G filter values to move).
 */
export function reorderFilter(w: Float32Array, f: NchwcFilter, block: number, into?: Float32Array): Float32Array {
  const [o, i, kh, kw] = f.shape;
  const taps = kh * kw;
  const rowLength = i * taps;
  const dst = into ?? new Float32Array(f.paddedOut * f.paddedIn * taps);
  const inBlocks = f.layout === 'OIHWBiBo' ? f.paddedIn / block : i;
  const inBlock = f.layout === 'OIHWBiBo' ? block : 1;
  const rows = new Int32Array(block);
  let d = 0;
  for (let ob = 0; ob < f.paddedOut / block; ob++) {
    // Source offset of each output channel of this block; -1 for the zero padding past O.
    for (let bo = 0; bo < block; bo++) rows[bo] = ob * block + bo < o ? (ob * block + bo) * rowLength : -1;
    const whole = (ob + 1) * block <= o;
    for (let ib = 0; ib < inBlocks; ib++) {
      for (let t = 0; t < taps; t++) {
        for (let bi = 0; bi < inBlock; bi++) {
          const ic = ib * inBlock + bi;
          const col = ic * taps + t;
          if (whole && ic < i) {
            // Sixteen output channels per block with AVX-512: unrolled, this copy takes half the time (1.7 vs 3.3 ns a value).
            if (block === 16) {
              dst[d] = w[rows[0] + col]; dst[d + 1] = w[rows[1] + col]; dst[d + 2] = w[rows[2] + col]; dst[d + 3] = w[rows[3] + col];
              dst[d + 4] = w[rows[4] + col]; dst[d + 5] = w[rows[5] + col]; dst[d + 6] = w[rows[6] + col]; dst[d + 7] = w[rows[7] + col];
              dst[d + 8] = w[rows[8] + col]; dst[d + 9] = w[rows[9] + col]; dst[d + 10] = w[rows[10] + col]; dst[d + 11] = w[rows[11] + col];
              dst[d + 12] = w[rows[12] + col]; dst[d + 13] = w[rows[13] + col]; dst[d + 14] = w[rows[14] + col]; dst[d + 15] = w[rows[15] + col];
              d += 16;
            } else {
              for (let bo = 0; bo < block; bo++) dst[d++] = w[rows[bo] + col];
            }
          } else {
            for (let bo = 0; bo < block; bo++) dst[d++] = rows[bo] < 0 || ic >= i ? 0 : w[rows[bo] + col];
          }
        }
      }
    }
  }
  return dst;
}

/** A one-node model whose output's channel count is ORT's NCHWc block size (input [1, 4, 1, 1], padded up). */
export function nchwcProbeModel(): Uint8Array {
  const io = (name: string, c: number | string) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, typeof c === 'number' ? { dimValue: c } : { dimParam: c }, { dimValue: 1 }, { dimValue: 1 }] } } } });
  const model = onnx.ModelProto.create({
    irVersion: 10,
    producerName: 'inkflow',
    opsetImport: [{ domain: '', version: 21 }, { domain: NCHWC_DOMAIN, version: 1 }],
    graph: {
      name: 'nchwc_probe',
      node: [{ opType: 'ReorderInput', input: ['x'], output: ['y'], attribute: [attr('channels_last', 0, 'int')], name: 'probe', domain: NCHWC_DOMAIN }],
      input: [io('x', 4)],
      output: [io('y', 'block')],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
