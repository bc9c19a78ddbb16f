// A loss curve a person can look at: SVG drawn here, rasterised to PNG by sharp (no plotting library).
// Raw per-step loss in light grey, a centred moving average on top, linear axes with ticks.
import sharp from 'sharp';

export interface LossPoint {
  step: number;
  loss: number;
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12 * span; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(3))));
const esc = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

export function lossPlotSvg(points: readonly LossPoint[], title: string, width = 800, height = 450): string {
  const m = { left: 70, right: 20, top: 40, bottom: 50 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const finite = points.filter((p) => Number.isFinite(p.loss));
  const steps = finite.map((p) => p.step);
  const losses = finite.map((p) => p.loss);
  const x0 = Math.min(...steps, 0);
  const x1 = Math.max(...steps, 1);
  const lo = Math.min(...losses, Infinity);
  const hi = Math.max(...losses, -Infinity);
  const y0 = Number.isFinite(lo) ? lo - 0.05 * (hi - lo || 1) : 0;
  const y1 = Number.isFinite(hi) ? hi + 0.05 * (hi - lo || 1) : 1;
  const X = (s: number) => m.left + ((s - x0) / (x1 - x0 || 1)) * w;
  const Y = (v: number) => m.top + h - ((v - y0) / (y1 - y0 || 1)) * h;
  const path = (pts: readonly LossPoint[]) => pts.map((p, i) => `${i ? 'L' : 'M'}${X(p.step).toFixed(1)},${Y(p.loss).toFixed(1)}`).join('');
  // A centred window (about 4 % of the run each side) smooths without the lag of an EMA.
  const k = Math.max(1, Math.round(finite.length / 25));
  const smooth = finite.map((p, i) => {
    const win = losses.slice(Math.max(0, i - k), i + k + 1);
    return { step: p.step, loss: win.reduce((a, b) => a + b, 0) / win.length };
  });
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  for (const v of niceTicks(y0, y1, 6)) {
    parts.push(`<line x1="${m.left}" x2="${m.left + w}" y1="${Y(v)}" y2="${Y(v)}" stroke="#e5e5e5"/>`, `<text x="${m.left - 6}" y="${Y(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (const s of niceTicks(x0, x1, 8)) {
    parts.push(`<line x1="${X(s)}" x2="${X(s)}" y1="${m.top + h}" y2="${m.top + h + 5}" stroke="black"/>`, `<text x="${X(s)}" y="${m.top + h + 18}" text-anchor="middle">${fmt(s)}</text>`);
  }
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${w}" height="${h}" fill="none" stroke="black"/>`,
    `<path d="${path(finite)}" fill="none" stroke="#b0b0b0" stroke-width="1"/>`,
    `<path d="${path(smooth)}" fill="none" stroke="#1f5fbf" stroke-width="2"/>`,
    `<text x="${m.left + w / 2}" y="${height - 12}" text-anchor="middle">optimiser step</text>`,
    `<text x="16" y="${m.top + h / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.top + h / 2})">loss</text>`,
    `<text x="${m.left + w - 4}" y="${m.top + 16}" text-anchor="end" fill="#1f5fbf">moving average</text>`,
    `</svg>`,
  );
  return parts.join('\n');
}

export async function renderLossPlot(points: readonly LossPoint[], title: string): Promise<Uint8Array> {
  return new Uint8Array(await sharp(Buffer.from(lossPlotSvg(points, title))).png().toBuffer());
}
