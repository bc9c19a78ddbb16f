// `tsx bench/flat.ts [--pairs 200] [--size 512] [--seed 1000]`: the flat paint-bucket colouriser on generated
// character-sheet pairs. Reports BasicPBC segment accuracy (regions ≥ 10 px per 512², and all regions),
// pixel accuracy, the parts most often wrong, and the time to colour a 2048² line art (cold first call and
// warm median) with a 512² and a 2048² reference. Goals (issue 5): ≥ 90 % segment accuracy, ≤ 1 s at 2048².
import { pathToFileURL } from 'node:url';
import { generateCharacterPair } from '../src/imaging/synthetic/characterSheet.ts';
import { scoreColoring } from '../src/imaging/synthetic/score.ts';
import { flatColorize } from '../src/pipelines/flat/colorize.ts';

export interface FlatBenchOptions {
  pairs?: number;
  size?: number;
  seed?: number;
  /** Side of the timing case (default 2048). */
  timingSize?: number;
  timingRuns?: number;
  log?: (line: string) => void;
}

export interface FlatBenchResult {
  pairs: number;
  /** Mean over pairs of the per-pair segment accuracy (regions ≥ 10 px per 512²). */
  segmentAccuracy: number;
  /** Same, pooled over all regions of all pairs. */
  segmentAccuracyPooled: number;
  segmentAccuracyForeground: number;
  /** Every region counted, however small. */
  segmentAccuracyAll: number;
  pixelAccuracy: number;
  pixelAccuracyForeground: number;
  /** Median time to colour one bench pair (ms). */
  pairMs: number;
  /** Part name → [wrong, total] over the counted regions. */
  wrongByPart: Record<string, [number, number]>;
  timing: { size: number; referenceSize: number; coldMs: number; warmMs: number }[];
}

export function runFlatBench(options: FlatBenchOptions = {}): FlatBenchResult {
  const pairs = options.pairs ?? 200;
  const size = options.size ?? 512;
  const seed0 = options.seed ?? 1000;
  const log = options.log ?? ((line: string) => console.log(line));
  let seg = 0, segFg = 0, segAll = 0, pix = 0, pixFg = 0, counted = 0, wrong = 0;
  const times: number[] = [];
  const wrongByPart: Record<string, [number, number]> = {};
  for (let k = 0; k < pairs; k++) {
    const pair = generateCharacterPair({ seed: seed0 + k, width: size });
    const t0 = performance.now();
    const out = flatColorize({ reference: pair.reference, lineArt: pair.targetLineArt });
    times.push(performance.now() - t0);
    const score = scoreColoring(out.flat, pair);
    seg += score.segmentAccuracy;
    segFg += score.segmentAccuracyForeground;
    segAll += score.segmentAccuracyAll;
    pix += score.pixelAccuracy;
    pixFg += score.pixelAccuracyForeground;
    counted += score.regions;
    wrong += score.wrongRegions.length;
    const bad = new Set(score.wrongRegions);
    const area = new Map<number, number>();
    for (const r of pair.targetRegions) if (r >= 0) area.set(r, (area.get(r) ?? 0) + 1);
    const minArea = (10 * size * size) / (512 * 512);
    for (const [r, a] of area) {
      if (a < minArea) continue;
      const part = pair.regionParts[r].replace(/[LR]$/, '');
      const e = (wrongByPart[part] ??= [0, 0]);
      e[1]++;
      if (bad.has(r)) e[0]++;
    }
  }
  times.sort((a, b) => a - b);
  const result: FlatBenchResult = {
    pairs,
    segmentAccuracy: seg / pairs,
    segmentAccuracyPooled: counted ? 1 - wrong / counted : 1,
    segmentAccuracyForeground: segFg / pairs,
    segmentAccuracyAll: segAll / pairs,
    pixelAccuracy: pix / pairs,
    pixelAccuracyForeground: pixFg / pairs,
    pairMs: times[times.length >> 1],
    wrongByPart,
    timing: [],
  };
  const pct = (v: number): string => (100 * v).toFixed(2) + ' %';
  log(`flat colouriser on ${pairs} generated pairs at ${size}² (seeds ${seed0}..${seed0 + pairs - 1})`);
  log(`  segment accuracy   ${pct(result.segmentAccuracy)} (pooled ${pct(result.segmentAccuracyPooled)}, figure only ${pct(result.segmentAccuracyForeground)}, all regions incl. < 10 px ${pct(result.segmentAccuracyAll)})`);
  log(`  pixel accuracy     ${pct(result.pixelAccuracy)} (figure only ${pct(result.pixelAccuracyForeground)})`);
  log(`  median time/pair   ${result.pairMs.toFixed(1)} ms`);
  const worst = Object.entries(wrongByPart).filter(([, [w]]) => w > 0).sort((a, b) => b[1][0] - a[1][0]);
  log(`  wrong by part      ${worst.map(([p, [w, n]]) => `${p} ${w}/${n}`).join(', ') || 'none'}`);

  const big = options.timingSize ?? 2048;
  const runs = options.timingRuns ?? 5;
  const target = generateCharacterPair({ seed: seed0, width: big });
  const smallRef = generateCharacterPair({ seed: seed0, width: 512 }).reference;
  for (const reference of [smallRef, target.reference]) {
    const t0 = performance.now();
    flatColorize({ reference, lineArt: target.targetLineArt });
    const coldMs = performance.now() - t0;
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      flatColorize({ reference, lineArt: target.targetLineArt });
      warm.push(performance.now() - t);
    }
    warm.sort((a, b) => a - b);
    const row = { size: big, referenceSize: reference.width, coldMs, warmMs: warm[warm.length >> 1] };
    result.timing.push(row);
    log(`  ${big}² line art, ${reference.width}² reference: ${row.warmMs.toFixed(0)} ms warm median of ${runs} (first call ${coldMs.toFixed(0)} ms)`);
  }
  return result;
}

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`${name} needs a positive number`);
    process.exit(2);
  }
  return v;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runFlatBench({ pairs: argValue('--pairs', 200), size: argValue('--size', 512), seed: argValue('--seed', 1000) });
}
