// `npm run bench -- flat [--pairs 60] [--seed 20000]`: the flat paint-bucket colouriser on generated
// production-style pairs (src/imaging/synthetic/productionPair.ts), in both settings:
//   sheet → new pose   (character sheet, possibly transparent; target cropped / mirrored / with scenery)
//   frame → next frame (the finished frame n colours the line art of frame n + 1, small motion)
// Reports segment accuracy (BasicPBC style, regions ≥ 10 px per 512²) and character-pixel accuracy, split by
// hard case (cropped, mirrored, occluded, scenery, transparent sheet), the parts most often wrong, the time
// to colour a 2048² line art, and the time per 1920×1080 frame in a 24-frame sequence.
// Seeds: below 20000 are for tuning (0–59, 100–199 and 1000–1099 were used; bench/flatTune.ts is the loop); the
// default 20000+ are held out (never looked at while tuning; check a second block with `--seed 30000`).
// `--matcher learned|hand [--matcher-blend B] [--background hand|learned]`: with the learned matcher and background
// decision (models/default/flat-matcher; the default, as in the CLI) or the model-free matcher.
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { Image } from '../src/imaging/image.ts';
import { generateCharacterPair } from '../src/imaging/synthetic/characterSheet.ts';
import { DEFAULT_FLAT_MATCHER } from '../src/pipelines/colorize/colorizeLineArt.ts';
import { generateProductionPair } from '../src/imaging/synthetic/productionPair.ts';
import { scoreColoring } from '../src/imaging/synthetic/score.ts';
import { DEFAULT_UNCERTAIN_BELOW as SHEET_UNCERTAIN_BELOW, flatColorize } from '../src/pipelines/flat/colorize.ts';
import { DEFAULT_PROPAGATE_UNCERTAIN_BELOW as FRAME_UNCERTAIN_BELOW, propagateFlat } from '../src/pipelines/flat/propagate.ts';
import { colorizeSequence } from '../src/pipelines/flat/sequence.ts';
import { CUE_ORDER } from '../src/pipelines/flat/backgroundDecision.ts';
import { fitLogistic } from '../src/pipelines/flat/fitLogistic.ts';
import { learnedBackgroundDecision, loadBackgroundModel } from '../src/pipelines/flat/learnedBackground.ts';
import { DEFAULT_MATCHER_BLEND, DEFAULT_MATCHER_DIR, learnedPairCost, loadMatcher } from '../src/pipelines/flat/learnedMatcher.ts';
import type { MatchOptions } from '../src/pipelines/flat/match.ts';

export interface FlatBenchOptions {
  pairs?: number;
  seed?: number;
  /** Side of the square timing case (default 2048). */
  timingSize?: number;
  timingRuns?: number;
  /** Frames in the timed 1080p sequence (default 24). */
  sequenceFrames?: number;
  /** Matcher options for sheet → pose (the learned matcher's hook); default the model-free matcher. */
  match?: MatchOptions;
  log?: (line: string) => void;
}

export interface SettingScore {
  segmentAccuracy: number;
  pixelAccuracyCharacter: number;
  /** Tag → [mean segment accuracy, mean character-pixel accuracy, pairs]. */
  byTag: Record<string, [number, number, number]>;
  /** Part name → wrong regions over all pairs. */
  wrongByPart: Record<string, number>;
  calibration: Calibration;
  medianMs: number;
}

export interface FlatBenchResult {
  pairs: number;
  seeds: [number, number];
  sheetToPose: SettingScore;
  frameToFrame: SettingScore;
  /** cpuMs: this process's CPU time for the warm median run (GC threads included): what a quiet machine's wall time would be, roughly. */
  timing2048: { referenceSize: number; coldMs: number; warmMs: number; cpuMs: number }[];
  sequence1080p: { frames: number; totalMs: number; perFrameMs: number };
}

/** Uncertain-mask calibration over ground-truth regions: precision = flagged that are wrong, recall = wrong that are flagged. */
export interface Calibration {
  flagged: number;
  flaggedWrong: number;
  wrong: number;
  wrongFlagged: number;
}

/**
 * Counts, over the ground-truth regions the segment accuracy counts, which were flagged uncertain (the
 * predicted region covering most of them has confidence below the threshold) and which are wrong.
 */
function calibrate(
  cal: Calibration, truth: Int32Array, labels: Int32Array, confidence: Float32Array, threshold: number, wrongRegions: number[], regions: number,
): void {
  const votes = Array.from({ length: regions }, () => new Map<number, number>());
  const area = new Float64Array(regions);
  for (let i = 0; i < truth.length; i++) {
    const g = truth[i];
    if (g < 0) continue;
    area[g]++;
    votes[g].set(labels[i], (votes[g].get(labels[i]) ?? 0) + 1);
  }
  const wrong = new Set(wrongRegions);
  const minArea = (10 * truth.length) / (512 * 512); // as scoreColoring counts
  for (let g = 0; g < regions; g++) {
    if (area[g] < minArea) continue;
    let best = -1, n = 0;
    for (const [l, c] of votes[g]) if (c > n) { n = c; best = l; }
    const flagged = confidence[best] < threshold;
    const bad = wrong.has(g);
    if (flagged) cal.flagged++;
    if (flagged && bad) cal.flaggedWrong++;
    if (bad) cal.wrong++;
    if (bad && flagged) cal.wrongFlagged++;
  }
}

interface Accumulator {
  cal: Calibration;
  seg: number[];
  pix: number[];
  tags: string[][];
  ms: number[];
  wrongByPart: Record<string, number>;
}

function summarise(a: Accumulator): SettingScore {
  const mean = (v: number[]): number => v.reduce((x, y) => x + y, 0) / Math.max(1, v.length);
  const byTag: Record<string, [number, number, number]> = {};
  const allTags = new Set(['plain', ...a.tags.flat()]);
  for (const tag of allTags) {
    const idx = a.tags.map((t, k) => ((tag === 'plain' ? t.length === 0 || (t.length === 1 && t[0] === 'transparentSheet') : t.includes(tag)) ? k : -1)).filter((k) => k >= 0);
    if (idx.length) byTag[tag] = [mean(idx.map((k) => a.seg[k])), mean(idx.map((k) => a.pix[k])), idx.length];
  }
  const ms = [...a.ms].sort((x, y) => x - y);
  return { segmentAccuracy: mean(a.seg), pixelAccuracyCharacter: mean(a.pix), byTag, wrongByPart: a.wrongByPart, calibration: a.cal, medianMs: ms[ms.length >> 1] ?? 0 };
}

export function runFlatBench(options: FlatBenchOptions = {}): FlatBenchResult {
  const pairs = options.pairs ?? 60;
  const seed0 = options.seed ?? 20000;
  const log = options.log ?? ((line: string) => console.log(line));
  const emptyCal = (): Calibration => ({ flagged: 0, flaggedWrong: 0, wrong: 0, wrongFlagged: 0 });
  const sheet: Accumulator = { cal: emptyCal(), seg: [], pix: [], tags: [], ms: [], wrongByPart: {} };
  const frame: Accumulator = { cal: emptyCal(), seg: [], pix: [], tags: [], ms: [], wrongByPart: {} };
  for (let k = 0; k < pairs; k++) {
    const p = generateProductionPair({ seed: seed0 + k });
    let t0 = performance.now();
    const a = flatColorize({ reference: p.reference, lineArt: p.target.lineArt, options: { match: options.match } });
    sheet.ms.push(performance.now() - t0);
    const sa = scoreColoring(a.flat, p.target);
    sheet.seg.push(sa.segmentAccuracy);
    sheet.pix.push(sa.pixelAccuracyForeground);
    sheet.tags.push(p.tags);
    calibrate(sheet.cal, p.target.targetRegions, a.regions.labels, a.regions.confidence, SHEET_UNCERTAIN_BELOW, sa.wrongRegions, p.target.regionParts.length);
    for (const r of sa.wrongRegions) sheet.wrongByPart[p.target.regionParts[r]] = (sheet.wrongByPart[p.target.regionParts[r]] ?? 0) + 1;
    t0 = performance.now();
    const b = propagateFlat({ previous: p.target.colored, lineArt: p.next.lineArt });
    frame.ms.push(performance.now() - t0);
    const sb = scoreColoring(b.flat, { targetRegions: p.next.targetRegions, regionColors: p.next.regionFrameColors, regionIsBackground: p.next.regionIsBackground });
    frame.seg.push(sb.segmentAccuracy);
    frame.pix.push(sb.pixelAccuracyForeground);
    frame.tags.push(p.tags);
    calibrate(frame.cal, p.next.targetRegions, b.regions.labels, b.regions.confidence, FRAME_UNCERTAIN_BELOW, sb.wrongRegions, p.next.regionParts.length);
    for (const r of sb.wrongRegions) frame.wrongByPart[p.next.regionParts[r]] = (frame.wrongByPart[p.next.regionParts[r]] ?? 0) + 1;
  }
  const result: FlatBenchResult = {
    pairs, seeds: [seed0, seed0 + pairs - 1], sheetToPose: summarise(sheet), frameToFrame: summarise(frame), timing2048: [], sequence1080p: { frames: 0, totalMs: 0, perFrameMs: 0 },
  };
  const pct = (v: number): string => (100 * v).toFixed(1) + ' %';
  log(`flat colouriser on ${pairs} production-style pairs, seeds ${seed0}..${seed0 + pairs - 1} (1024×576 frames, 768² sheets)`);
  for (const [name, s] of [['sheet → new pose', result.sheetToPose], ['frame → next frame', result.frameToFrame]] as const) {
    log(`  ${name}: segment accuracy ${pct(s.segmentAccuracy)}, character pixels ${pct(s.pixelAccuracyCharacter)}, median ${s.medianMs.toFixed(0)} ms/frame`);
    log(`    by case: ${Object.entries(s.byTag).map(([t, [sg, px, n]]) => `${t} (${n}) ${pct(sg)} / ${pct(px)}`).join('; ')}`);
    const worst = Object.entries(s.wrongByPart).sort((x, y) => y[1] - x[1]).slice(0, 12);
    const c = s.calibration;
    log(`    uncertain mask: ${c.flagged} regions flagged, ${pct(c.flaggedWrong / Math.max(1, c.flagged))} of them wrong; ${c.wrongFlagged} of ${c.wrong} wrong regions flagged (${pct(c.wrongFlagged / Math.max(1, c.wrong))})`);
    log(`    most often wrong: ${worst.map(([part, n]) => `${part} ${n}`).join(', ') || 'none'}`);
  }

  const big = options.timingSize ?? 2048;
  const runs = options.timingRuns ?? 3;
  const target = generateCharacterPair({ seed: seed0, width: big });
  const smallRef = generateCharacterPair({ seed: seed0, width: 512 }).reference;
  for (const reference of [smallRef, target.reference]) {
    const t0 = performance.now();
    flatColorize({ reference, lineArt: target.targetLineArt, options: { match: options.match } });
    const coldMs = performance.now() - t0;
    const warm: [number, number][] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const c = process.cpuUsage();
      flatColorize({ reference, lineArt: target.targetLineArt, options: { match: options.match } });
      const used = process.cpuUsage(c);
      warm.push([performance.now() - t, (used.user + used.system) / 1000]);
    }
    warm.sort((x, y) => x[0] - y[0]);
    const [warmMs, cpuMs] = warm[warm.length >> 1];
    const row = { referenceSize: reference.width, coldMs, warmMs, cpuMs };
    result.timing2048.push(row);
    // On a shared machine wall time grows with the load; the CPU time is the work itself.
    log(`  ${big}² line art, ${reference.width}² sheet: ${row.warmMs.toFixed(0)} ms warm median of ${runs} (${cpuMs.toFixed(0)} ms CPU; first call ${coldMs.toFixed(0)} ms), load average ${loadavg()[0].toFixed(1)}`);
  }

  const frames = options.sequenceFrames ?? 24;
  const hd = generateProductionPair({ seed: seed0, targetWidth: 1920, targetHeight: 1080 });
  const lineArts: Image[] = Array.from({ length: frames }, (_, k) => (k % 2 ? hd.next.lineArt : hd.target.lineArt));
  const t0 = performance.now();
  colorizeSequence({ reference: hd.target.colored, lineArts });
  const totalMs = performance.now() - t0;
  result.sequence1080p = { frames, totalMs, perFrameMs: totalMs / frames };
  log(`  1920×1080 sequence of ${frames} frames from a coloured first frame: ${(totalMs / 1000).toFixed(1)} s, ${(totalMs / frames).toFixed(0)} ms/frame, load average ${loadavg()[0].toFixed(1)}`);
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

/**
 * `--matcher learned [--matcher-blend B] [--background hand|learned] [--matcher-dir DIR]` (or `--matcher=learned`, for
 * `npm run bench -- flat`; learned is the default, as in the CLI) → the learned matcher's hooks: pair costs and,
 * unless `--background hand`, the learned background decision, from DIR (default models/default/flat-matcher);
 * `--matcher hand` → none (the model-free matcher).
 */
export function matcherFromArgs(argv: readonly string[] = process.argv): MatchOptions | undefined {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${flag}=`))?.slice(flag.length + 1);
  };
  const kind = value('--matcher') ?? DEFAULT_FLAT_MATCHER;
  if (kind === 'hand') return undefined;
  if (kind !== 'learned') {
    console.error(`--matcher must be hand or learned, got ${kind}`);
    process.exit(2);
  }
  const blendText = value('--matcher-blend');
  const blend = blendText === undefined ? DEFAULT_MATCHER_BLEND : Number(blendText);
  if (!Number.isFinite(blend) || blend < 0) {
    console.error('--matcher-blend needs a number ≥ 0');
    process.exit(2);
  }
  const background = value('--background') ?? 'learned';
  if (background !== 'hand' && background !== 'learned') {
    console.error(`--background must be hand or learned, got ${background}`);
    process.exit(2);
  }
  const dir = value('--matcher-dir') ?? DEFAULT_MATCHER_DIR;
  return {
    pairCost: learnedPairCost(loadMatcher(dir), blend),
    ...(background === 'learned' ? { backgroundDecision: learnedBackgroundDecision(loadBackgroundModel(dir)) } : {}),
  };
}

/**
 * Refits the background model of backgroundDecision.ts on tuning seeds: each candidate region's cues, labelled
 * background when most of its pixels are paper or scenery in the ground truth.
 */
export function fitBackgroundModel(seed0 = 1000, pairs = 60, log: (line: string) => void = console.log): void {
  const x: number[][] = [];
  const y: number[] = [];
  for (let k = 0; k < pairs; k++) {
    const p = generateProductionPair({ seed: seed0 + k });
    const cues = new Map<number, number[]>();
    const out = flatColorize({ reference: p.reference, lineArt: p.target.lineArt, options: { match: { onBackgroundCues: (t, c) => cues.set(t, CUE_ORDER.map((key) => c[key])) } } });
    const votes = Array.from({ length: out.regions.count }, () => [0, 0]);
    p.target.targetRegions.forEach((g, i) => {
      if (g >= 0) votes[out.regions.labels[i]][p.target.regionIsBackground[g] ? 1 : 0]++;
    });
    for (const [t, c] of cues) {
      const [fig, bg] = votes[t];
      if (fig + bg < 20) continue;
      x.push(c);
      y.push(bg > fig ? 1 : 0);
    }
  }
  const fit = fitLogistic(x, y);
  log(`${x.length} candidate regions (${y.filter((v) => v).length} background) from seeds ${seed0}..${seed0 + pairs - 1}; training accuracy ${(100 * fit.trainAccuracy).toFixed(1)} %`);
  log(JSON.stringify(Object.fromEntries([...CUE_ORDER.map((key, i) => [key, +fit.weights[i].toFixed(3)]), ['bias', +fit.bias.toFixed(3)]])));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--fit-background')) {
  fitBackgroundModel(argValue('--seed', 1000), argValue('--pairs', 60));
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runFlatBench({ pairs: argValue('--pairs', 60), seed: argValue('--seed', 20000), match: matcherFromArgs() });
}
