// Deterministic synthetic character sheets for evaluating reference-guided colouring. A character is a
// parametric figure (hair, head, eyes, torso, arms, legs, shoes, accessories) with flat colours from its
// own palette; it is drawn in a reference pose and a target pose with black outlines of one weight.
// Each pair gives the reference colour image, the target colour image (ground truth), the target line
// art and the target's ground-truth regions (closed areas between lines) with their colours.
import { createImage, type Image } from '../image.ts';
import { rgbToLab, deltaE, type Rgb, type Lab } from '../palette.ts';
import { createRng, type Rng } from './random.ts';
import { outlineCoverage } from './outlines.ts';
import {
  applyAffine, capsule, compose, ellipse, fillPolygon, rotate, rotateAbout, roundedQuad, scale, translate,
  IDENTITY, type Affine, type Polygon,
} from './rasterize.ts';

const SLOTS = ['skin', 'hair', 'shirt', 'sleeve', 'pants', 'legs', 'shoes', 'iris', 'accent', 'accent2'] as const;
export type Slot = (typeof SLOTS)[number] | 'eyeWhite';

export interface Character {
  colors: Record<Slot, Rgb>;
  headW: number;
  torsoH: number;
  shoulderW: number;
  waistW: number;
  upperArm: number;
  foreArm: number;
  armHalfW: number;
  legLen: number;
  legHalfW: number;
  longHair: number; // 0 = short hair, else length in head units
  skirt: boolean;
  belt: boolean;
  badge: boolean;
  bow: boolean;
  shortSleeves: boolean;
  bangSpikes: number;
}

export interface Pose {
  /** Arm angles from hanging straight down, outward positive (radians). */
  shoulderL: number;
  shoulderR: number;
  /** Extra bend at the elbow (radians, outward positive). */
  elbowL: number;
  elbowR: number;
  hipL: number;
  hipR: number;
  headTilt: number;
  gazeX: number;
  gazeY: number;
  rotation: number;
  scale: number;
  /** Offset of the figure centre from the canvas centre, as a fraction of the canvas size. */
  offsetX: number;
  offsetY: number;
}

export interface CharacterSheetOptions {
  seed: number;
  /** Reference canvas (default 512×512). */
  width?: number;
  height?: number;
  /** Target canvas (defaults to the reference size). */
  targetWidth?: number;
  targetHeight?: number;
  /** Outline weight in pixels (default ≈ canvas/170, at least 2). */
  lineWidth?: number;
  /** 0 = target pose equals the reference pose, 1 = the default range of pose changes. */
  poseVariation?: number;
}

export interface SyntheticPair {
  seed: number;
  character: Character;
  referencePose: Pose;
  targetPose: Pose;
  /** The colours the character uses (eye white included), as on its sheet. */
  palette: Rgb[];
  /** RGB: flat colours, black anti-aliased outlines, white background. */
  reference: Image;
  /** Ground truth: the target pose coloured like the reference. */
  target: Image;
  /** Grey: black lines on white, the colouriser's input. */
  targetLineArt: Image;
  /** Per target pixel: ground-truth region id, or −1 on line pixels (line art < 128). */
  targetRegions: Int32Array;
  /** Colour of each ground-truth region (background regions are white). */
  regionColors: Rgb[];
  regionIsBackground: boolean[];
  /** Name of the figure part each region belongs to ('background' for the paper), for diagnostics. */
  regionParts: string[];
}

const DEG = Math.PI / 180;
const WHITE: Rgb = [255, 255, 255];

/** Generates one reference/target pair; the same options always give the same bytes. */
export function generateCharacterPair(options: CharacterSheetOptions): SyntheticPair {
  const rng = createRng(options.seed);
  const width = options.width ?? 512;
  const height = options.height ?? width;
  const tw = options.targetWidth ?? width;
  const th = options.targetHeight ?? (options.targetWidth ?? height);
  const lineWidth = options.lineWidth ?? Math.max(2, Math.round(Math.min(width, height) / 170));
  const variation = options.poseVariation ?? 1;
  const character = sampleCharacter(rng);
  const referencePose = sheetPose();
  const targetPose = samplePose(rng, variation);
  const refParts = buildParts(character, referencePose);
  // One body-unit → pixel scale for both poses (from the reference), so the line weight means the same.
  const bbox = partsBBox(refParts, IDENTITY);
  const unit = 0.86 * Math.min(height / (bbox.y1 - bbox.y0), width / (bbox.x1 - bbox.x0));
  const ref = renderParts(refParts, width, height, placement(refParts, referencePose, unit, width, height), lineWidth);
  const tgtParts = buildParts(character, targetPose);
  const targetUnit = unit * Math.min(tw / width, th / height);
  const tgt = renderParts(tgtParts, tw, th, placement(tgtParts, targetPose, targetUnit, tw, th), lineWidth);

  const reference = colourise(ref.labels, ref.coverage, ref.partColors, width, height);
  const target = colourise(tgt.labels, tgt.coverage, tgt.partColors, tw, th);
  const targetLineArt = createImage(tw, th, 1);
  for (let i = 0; i < tw * th; i++) targetLineArt.data[i] = 255 - tgt.coverage[i];
  const gt = groundTruthRegions(tgt.labels, targetLineArt.data, tgt.partColors, tgt.partNames, tw, th);
  const used = new Set<string>();
  const palette: Rgb[] = [];
  for (const c of ref.partColors.slice(1)) {
    const k = c.join(',');
    if (!used.has(k)) {
      used.add(k);
      palette.push(c);
    }
  }
  return { seed: options.seed, character, referencePose, targetPose, palette, reference, target, targetLineArt, ...gt };
}

export function sampleCharacter(rng: Rng): Character {
  return {
    colors: samplePalette(rng),
    headW: rng.range(0.85, 1.05),
    torsoH: rng.range(1.4, 1.9),
    shoulderW: rng.range(1.0, 1.35),
    waistW: rng.range(0.8, 1.2),
    upperArm: rng.range(0.85, 1.1),
    foreArm: rng.range(0.75, 1.0),
    armHalfW: rng.range(0.13, 0.18),
    legLen: rng.range(1.8, 2.3),
    legHalfW: rng.range(0.17, 0.24),
    longHair: rng.chance(0.5) ? rng.range(0.8, 1.6) : 0,
    skirt: rng.chance(0.4),
    belt: rng.chance(0.5),
    badge: rng.chance(0.5),
    bow: rng.chance(0.5),
    shortSleeves: rng.chance(0.5),
    bangSpikes: rng.int(3, 5),
  };
}

/** Distinct flat colours (ΔE ≥ 20 between slots), never near the black of the lines or the white paper. */
function samplePalette(rng: Rng): Record<Slot, Rgb> {
  const chosen: Lab[] = [rgbToLab(255, 255, 255)];
  const out = {} as Record<Slot, Rgb>;
  for (const slot of SLOTS) {
    for (let attempt = 0; ; attempt++) {
      const c = slot === 'skin'
        ? hslToRgb(rng.range(15, 38), rng.range(0.35, 0.7), rng.range(0.62, 0.84))
        : hslToRgb(rng.range(0, 360), rng.range(0.3, 0.95), rng.range(0.28, 0.78));
      const lab = rgbToLab(c[0], c[1], c[2]);
      const ok = lab[0] >= 32 && lab[0] <= 90 && chosen.every((q) => deltaE(lab, q) >= 20);
      if (ok || attempt > 200) {
        chosen.push(lab);
        out[slot] = c;
        break;
      }
    }
  }
  out.eyeWhite = WHITE;
  return out;
}

export function hslToRgb(h: number, s: number, l: number): Rgb {
  const k = (n: number): number => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number): number => Math.round(255 * (l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)))));
  return [f(0), f(8), f(4)];
}

/** The turnaround-sheet pose: standing, arms slightly out, centred, no tilt. */
export function sheetPose(): Pose {
  return {
    shoulderL: 22 * DEG, shoulderR: 22 * DEG, elbowL: 8 * DEG, elbowR: 8 * DEG, hipL: 5 * DEG, hipR: 5 * DEG,
    headTilt: 0, gazeX: 0, gazeY: 0, rotation: 0, scale: 1, offsetX: 0, offsetY: 0,
  };
}

export function samplePose(rng: Rng, v: number): Pose {
  const base = sheetPose();
  const mix = (from: number, to: number): number => from + (to - from) * v;
  return {
    shoulderL: mix(base.shoulderL, rng.range(0, 80) * DEG),
    shoulderR: mix(base.shoulderR, rng.range(0, 80) * DEG),
    elbowL: mix(base.elbowL, rng.range(-20, 60) * DEG),
    elbowR: mix(base.elbowR, rng.range(-20, 60) * DEG),
    hipL: mix(base.hipL, rng.range(0, 22) * DEG),
    hipR: mix(base.hipR, rng.range(0, 22) * DEG),
    headTilt: mix(0, rng.range(-14, 14) * DEG),
    gazeX: mix(0, rng.range(-0.025, 0.025)),
    gazeY: mix(0, rng.range(-0.02, 0.02)),
    rotation: mix(0, rng.range(-8, 8) * DEG),
    scale: mix(1, rng.range(0.82, 1.08)),
    offsetX: mix(0, rng.range(-0.06, 0.06)),
    offsetY: mix(0, rng.range(-0.04, 0.04)),
  };
}

export interface Part {
  name: string;
  slot: Slot;
  color: Rgb;
  poly: Polygon;
}

/** The figure in body units (head height ≈ 1, y down, origin between the hips), back to front. */
export function buildParts(ch: Character, pose: Pose): Part[] {
  const parts: Part[] = [];
  const add = (name: string, slot: Slot, poly: Polygon, m: Affine = IDENTITY): void => {
    parts.push({ name, slot, color: ch.colors[slot], poly: applyAffine(m, poly) });
  };
  const T = ch.torsoH;
  const hrx = 0.5 * ch.headW;
  const hry = 0.55;
  const neckTop = -T - 0.22;
  const hcy = neckTop - hry + 0.12;
  const head = rotateAbout(pose.headTilt, 0, -T - 0.1);

  if (ch.longHair) add('hairLong', 'hair', roundedQuad([[-hrx * 1.12, hcy], [hrx * 1.12, hcy], [hrx * 1.2, hcy + ch.longHair + 0.6], [-hrx * 1.2, hcy + ch.longHair + 0.6]], 0.25), head);
  add('hairBack', 'hair', ellipse(0, hcy - 0.06, hrx * 1.16, hry * 1.12), head);

  const hipY = 0.05;
  for (const side of [-1, 1] as const) {
    const hipX = side * ch.waistW * 0.24;
    const angle = -side * (side < 0 ? pose.hipL : pose.hipR);
    const leg = compose(translate(hipX, hipY), rotate(angle));
    add(side < 0 ? 'legL' : 'legR', ch.skirt ? 'legs' : 'pants', capsule(ch.legLen, ch.legHalfW), leg);
    add(side < 0 ? 'shoeL' : 'shoeR', 'shoes', ellipse(side * 0.08, ch.legLen + 0.02, 0.3, 0.17), leg);
  }
  const sw = ch.shoulderW / 2;
  const ww = ch.waistW / 2;
  add('torso', 'shirt', roundedQuad([[-sw, -T], [sw, -T], [ww, 0.18], [-ww, 0.18]], 0.18));
  if (ch.skirt) add('skirt', 'pants', roundedQuad([[-ww * 1.02, 0.0], [ww * 1.02, 0.0], [ww * 1.55, 0.95], [-ww * 1.55, 0.95]], 0.1));
  if (ch.belt) add('belt', 'accent', roundedQuad([[-ww * 1.04, -0.08], [ww * 1.04, -0.08], [ww * 1.04, 0.1], [-ww * 1.04, 0.1]], 0.04));
  if (ch.badge) add('badge', 'accent2', ellipse(sw * 0.35, -T * 0.62, 0.14, 0.14, 24));

  for (const side of [-1, 1] as const) {
    const shoulderX = side * (sw - 0.1);
    const shoulderY = -T + 0.2;
    const sAngle = -side * (side < 0 ? pose.shoulderL : pose.shoulderR);
    const eAngle = -side * (side < 0 ? pose.elbowL : pose.elbowR);
    const upper = compose(translate(shoulderX, shoulderY), rotate(sAngle));
    const fore = compose(upper, compose(translate(0, ch.upperArm), rotate(eAngle)));
    const tag = side < 0 ? 'L' : 'R';
    add('upperArm' + tag, 'sleeve', capsule(ch.upperArm, ch.armHalfW), upper);
    add('foreArm' + tag, ch.shortSleeves ? 'skin' : 'sleeve', capsule(ch.foreArm, ch.armHalfW * 0.9), fore);
    add('hand' + tag, 'skin', ellipse(0, ch.foreArm + 0.12, 0.16, 0.19, 24), fore);
  }

  add('neck', 'skin', roundedQuad([[-0.13, neckTop], [0.13, neckTop], [0.13, -T + 0.06], [-0.13, -T + 0.06]], 0.03));
  add('head', 'skin', ellipse(0, hcy, hrx, hry), head);
  for (const side of [-1, 1] as const) {
    const ex = side * 0.23 * ch.headW;
    const ey = hcy + 0.12;
    const tag = side < 0 ? 'L' : 'R';
    add('eyeWhite' + tag, 'eyeWhite', ellipse(ex, ey, 0.15, 0.19, 32), head);
    add('iris' + tag, 'iris', ellipse(ex + pose.gazeX, ey + 0.02 + pose.gazeY, 0.065, 0.095, 24), head);
  }
  add('bangs', 'hair', bangs(hrx, hry, hcy, ch.bangSpikes), head);
  if (ch.bow) {
    const bx = hrx * 0.55;
    const by = hcy - hry * 0.95;
    add('bowL', 'accent2', [[bx, by], [bx - 0.32, by - 0.2], [bx - 0.3, by + 0.18]], head);
    add('bowR', 'accent2', [[bx, by], [bx + 0.32, by - 0.2], [bx + 0.3, by + 0.18]], head);
    add('bowKnot', 'accent', ellipse(bx, by, 0.08, 0.08, 16), head);
  }
  return parts;
}

/** Fringe: the top of the head plus a zig-zag lower edge. */
function bangs(rx: number, ry: number, cy: number, spikes: number): Polygon {
  const pts: [number, number][] = [];
  const a0 = Math.PI + 0.35;
  const a1 = 2 * Math.PI - 0.35;
  for (let i = 0; i <= 20; i++) {
    const a = a0 + ((a1 - a0) * i) / 20;
    pts.push([rx * 1.06 * Math.cos(a), cy + ry * 1.06 * Math.sin(a)]);
  }
  const xr = pts[pts.length - 1][0];
  const xl = pts[0][0];
  const base = cy - ry * 0.28;
  for (let k = 0; k <= 2 * spikes; k++) {
    const x = xr + ((xl - xr) * k) / (2 * spikes);
    pts.push([x, k % 2 ? base + ry * 0.22 : base]);
  }
  return pts;
}

export function partsBBox(parts: Part[], m: Affine): { x0: number; y0: number; x1: number; y1: number } {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const p of parts) {
    for (const [x, y] of applyAffine(m, p.poly)) {
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
    }
  }
  return { x0, y0, x1, y1 };
}

/** Body units → canvas pixels: scale, rotate about the figure centre, centre + offset; shrinks to fit. */
export function placement(parts: Part[], pose: Pose, unit: number, width: number, height: number): Affine {
  const b = partsBBox(parts, IDENTITY);
  const cx = (b.x0 + b.x1) / 2;
  const cy = (b.y0 + b.y1) / 2;
  let s = unit * pose.scale;
  for (let tries = 0; tries < 20; tries++) {
    const m = compose(
      translate(width * (0.5 + pose.offsetX), height * (0.5 + pose.offsetY)),
      compose(rotate(pose.rotation), compose(scale(s), translate(-cx, -cy))),
    );
    const p = partsBBox(parts, m);
    const margin = 0.03 * Math.min(width, height);
    if (p.x0 >= margin && p.y0 >= margin && p.x1 <= width - margin && p.y1 <= height - margin) return m;
    s *= 0.95;
  }
  return compose(translate(width / 2, height / 2), compose(scale(s), translate(-cx, -cy)));
}

export interface Rendered {
  labels: Uint16Array;
  coverage: Uint8Array;
  /** Colour per label (0 = background, white). */
  partColors: Rgb[];
  partNames: string[];
}

export function renderParts(parts: Part[], width: number, height: number, m: Affine, lineWidth: number): Rendered {
  const labels = new Uint16Array(width * height);
  const partColors: Rgb[] = [WHITE];
  const partNames = ['background'];
  parts.forEach((p, k) => {
    fillPolygon(labels, width, height, applyAffine(m, p.poly), k + 1);
    partColors.push(p.color);
    partNames.push(p.name);
  });
  return { labels, coverage: outlineCoverage(labels, width, height, lineWidth), partColors, partNames };
}

export function colourise(labels: Uint16Array, coverage: Uint8Array, colors: Rgb[], width: number, height: number): Image {
  const img = createImage(width, height, 3);
  for (let i = 0; i < width * height; i++) {
    const c = colors[labels[i]];
    const k = 255 - coverage[i];
    img.data[i * 3] = Math.round((c[0] * k) / 255);
    img.data[i * 3 + 1] = Math.round((c[1] * k) / 255);
    img.data[i * 3 + 2] = Math.round((c[2] * k) / 255);
  }
  return img;
}

/** Closed areas of the target: 4-connected non-line pixels of one part. */
export function groundTruthRegions(
  labels: Uint16Array, lineArt: Uint8Array, partColors: Rgb[], partNames: string[], width: number, height: number,
): { targetRegions: Int32Array; regionColors: Rgb[]; regionIsBackground: boolean[]; regionParts: string[] } {
  const n = width * height;
  const regions = new Int32Array(n).fill(-1);
  const regionColors: Rgb[] = [];
  const regionIsBackground: boolean[] = [];
  const regionParts: string[] = [];
  const queue = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    if (regions[s] !== -1 || lineArt[s] < 128) continue;
    const id = regionColors.length;
    const part = labels[s];
    regionColors.push(partColors[part]);
    regionIsBackground.push(part === 0);
    regionParts.push(partNames[part]);
    regions[s] = id;
    let qt = 0;
    queue[qt++] = s;
    for (let qh = 0; qh < qt; qh++) {
      const i = queue[qh];
      const x = i % width;
      for (let k = 0; k < 4; k++) {
        const j = k === 0 ? (x > 0 ? i - 1 : -1) : k === 1 ? (x < width - 1 ? i + 1 : -1) : k === 2 ? i - width : i + width;
        if (j < 0 || j >= n) continue;
        if (regions[j] === -1 && lineArt[j] >= 128 && labels[j] === part) {
          regions[j] = id;
          queue[qt++] = j;
        }
      }
    }
  }
  return { targetRegions: regions, regionColors, regionIsBackground, regionParts };
}
