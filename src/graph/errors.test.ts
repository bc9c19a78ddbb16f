// Bad graphs and bad weights fail at build/compile time with messages that name the problem.
import { describe, it, expect } from 'vitest';
import { createGraph, GraphError } from './graph.ts';
import * as op from './ops.ts';
import * as nn from './nn.ts';
import { memoryWeights } from './weights.ts';
import { emitOnnx } from './emitOnnx.ts';

describe('shape inference errors', () => {
  it('rejects broadcasting mismatches with both shapes', () => {
    const g = createGraph();
    expect(() => op.add(g.input('a', 'f32', [2, 3]), g.input('b', 'f32', [4]))).toThrow(/Add: cannot broadcast \[2,3\] with \[4\]/);
  });
  it('rejects matmul inner-dimension mismatch', () => {
    const g = createGraph();
    expect(() => op.matmul(g.input('a', 'f32', [2, 3]), g.input('b', 'f32', [4, 5]))).toThrow(/MatMul: inner dimensions differ: \[2,3\] × \[4,5\]/);
  });
  it('rejects conv channel mismatch', () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [1, 3, 8, 8]);
    expect(() => nn.conv2d(x, 'conv', 4, 8, 3)).toThrow(/Conv: input has 3 channels but weight \[8,4,3,3\]/);
  });
  it('rejects impossible reshapes and bad permutations', () => {
    const g = createGraph();
    const x = g.input('x', 'f32', [2, 3]);
    expect(() => op.reshape(x, [4, -1])).toThrow(/cannot reshape \[2,3\]/);
    expect(() => op.transpose(x, [0, 0])).toThrow(/not a permutation/);
  });
  it('rejects group norm with indivisible groups', () => {
    const g = createGraph();
    expect(() => nn.groupNorm(g.input('x', 'f32', [1, 6, 2, 2]), 'gn', 4)).toThrow(/6 channels not divisible into 4 groups/);
  });
  it('rejects dtype mixes', () => {
    const g = createGraph();
    const a = g.input('a', 'f32', [2]);
    const b = g.input('b', 'i64', [2]);
    expect(() => op.add(a, b)).toThrow(GraphError);
    expect(() => op.gather(a, a)).toThrow(/indices must be i64/);
  });
  it('rejects a parameter declared twice with different shapes', () => {
    const g = createGraph();
    g.param('w', [2, 2]);
    expect(() => g.param('w', [3, 2])).toThrow(/declared twice/);
  });
});

describe('weight binding errors', () => {
  const build = () => {
    const g = createGraph();
    g.output('y', nn.linear(g.input('x', 'f32', [1, 4]), 'proj', 4, 2));
    return g;
  };
  it('names a missing weight and its expected shape, suggesting near keys', () => {
    const w = memoryWeights({ 'other.proj.weight': new Float32Array(8), 'proj.bias': new Float32Array(2) }, { 'other.proj.weight': [2, 4] });
    expect(() => emitOnnx(build(), w)).toThrow(/missing weight "proj.weight" \(expected f32 \[2,4\]\); similar keys: other.proj.weight/);
  });
  it('names a weight with the wrong shape', () => {
    const w = memoryWeights({ 'proj.weight': new Float32Array(8), 'proj.bias': new Float32Array(2) }, { 'proj.weight': [4, 2] });
    expect(() => emitOnnx(build(), w)).toThrow(/weight "proj.weight" has shape \[4,2\], expected \[2,4\]/);
  });
  it('names a weight with the wrong dtype', () => {
    const w = memoryWeights({ 'proj.weight': { dtype: 'f16', shape: [2, 4], data: new Uint16Array(8) }, 'proj.bias': new Float32Array(2) });
    expect(() => emitOnnx(build(), w)).toThrow(/weight "proj.weight" has dtype f16, expected f32/);
  });
});
