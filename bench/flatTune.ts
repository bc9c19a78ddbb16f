// `npx tsx bench/flatTune.ts <seed0> <pairs> [--worst] [--frame] [--matcher learned|hand [--matcher-blend B] [--background hand|learned]]`: the tuning loop for the flat colouriser (sheet →
// pose). Prints segment and character-pixel accuracy and the lost character pixels by part, weighted by pixels
// (=BG: figure pixels painted as background, =FG: painted another sheet colour). Use seeds below 20000 only.
import { generateProductionPair } from '../src/imaging/synthetic/productionPair.ts';
import { scoreColoring } from '../src/imaging/synthetic/score.ts';
import { flatColorize } from '../src/pipelines/flat/colorize.ts';
import { propagateFlat } from '../src/pipelines/flat/propagate.ts';
import { matcherFromArgs } from './flat.ts';
const a = process.argv.slice(2);
const s0 = Number(a[0] ?? 0), n = Number(a[1] ?? 40);
const doFrame = a.includes('--frame');
const match = matcherFromArgs();
const lostByPart: Record<string, number> = {};
const seg: number[] = [], pix: number[] = [], fseg: number[] = [];
const perSeed: [number, number, number, string][] = [];
const t0 = performance.now();
for (let k = 0; k < n; k++) {
  const p = generateProductionPair({ seed: s0 + k });
  const r = flatColorize({ reference: p.reference, lineArt: p.target.lineArt, options: { match } });
  const s = scoreColoring(r.flat, p.target);
  seg.push(s.segmentAccuracy); pix.push(s.pixelAccuracyForeground);
  // pixel-weighted losses per part (character only), fraction of that pair's character px
  const gt = p.target.targetRegions; const d = r.flat.data; const ch = r.flat.channels;
  let fg = 0; const lost: Record<string, number> = {};
  for (let i = 0; i < gt.length; i++) {
    const g = gt[i]; if (g < 0 || p.target.regionIsBackground[g]) continue;
    fg++;
    const t = p.target.regionColors[g];
    if (d[i*ch] !== t[0] || d[i*ch+1] !== t[1] || d[i*ch+2] !== t[2]) { const part = p.target.regionParts[g]; lost[part] = (lost[part] ?? 0) + 1; const asBg = d[i*ch] === 255 && d[i*ch+1] === 255 && d[i*ch+2] === 255; lost[asBg ? '=BG' : '=FG'] = (lost[asBg ? '=BG' : '=FG'] ?? 0) + 1; }
  }
  for (const [k2, v] of Object.entries(lost)) lostByPart[k2] = (lostByPart[k2] ?? 0) + v / fg / n;
  perSeed.push([s0 + k, s.pixelAccuracyForeground, s.segmentAccuracy, p.tags.join(',') + ' ' + Object.entries(lost).sort((x,y)=>y[1]-x[1]).slice(0,5).map(([q,v])=>`${q}:${(100*v/fg).toFixed(1)}`).join(' ')]);
  if (doFrame) { const b = propagateFlat({ previous: p.target.colored, lineArt: p.next.lineArt }); const sb = scoreColoring(b.flat, { targetRegions: p.next.targetRegions, regionColors: p.next.regionFrameColors, regionIsBackground: p.next.regionIsBackground }); fseg.push(sb.segmentAccuracy); }
}
const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / Math.max(1, v.length);
console.log(`seeds ${s0}..${s0+n-1}: seg ${(100*mean(seg)).toFixed(2)} charpx ${(100*mean(pix)).toFixed(2)}${doFrame ? ' frame seg ' + (100*mean(fseg)).toFixed(2) : ''}  (${((performance.now()-t0)/1000).toFixed(0)} s)`);
console.log('lost char px % by part: ' + Object.entries(lostByPart).sort((x,y)=>y[1]-x[1]).slice(0,16).map(([k2,v])=>`${k2} ${(100*v).toFixed(2)}`).join(', '));
if (a.includes('--worst')) for (const r of perSeed.sort((x,y)=>x[1]-y[1]).slice(0,15)) console.log(`  seed ${r[0]} px ${(100*r[1]).toFixed(1)} seg ${(100*r[2]).toFixed(1)} ${r[3]}`);
