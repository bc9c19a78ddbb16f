// A harder synthetic pair, closer to production anime line art than characterSheet.ts: the same parametric
// character, plus what real frames have — colour-trace lines (shadow boundaries in blue, highlight
// boundaries in red, that split a part into base / shade regions and are painted over when finished),
// hair strands that split the hair into several regions of one colour, pupils and eye highlights, buttons,
// a hair clip, a collar; target frames with background scenery (floor, window, bush), a foreground
// occluder, framing that crops the figure at the frame edge, mirrored poses; a sheet that is sometimes on a
// transparent background; and a second frame with small motion for frame-to-frame propagation.
// Everything is deterministic per seed.
import { createImage, type Image } from '../image.ts';
import { deltaE, rgbToLab, type Rgb } from '../palette.ts';
import {
  buildParts, hslToRgb, partsBBox, placement, sampleCharacter, samplePose, sheetPose,
  type Character, type Part, type Pose, type Slot,
} from './characterSheet.ts';
import { outlineCoverage } from './outlines.ts';
import { createRng, type Rng } from './random.ts';
import {
  applyAffine, compose, ellipse, fillPolygon, IDENTITY, rotateAbout, roundedQuad, scale, translate, type Affine, type Polygon,
} from './rasterize.ts';

export interface ProductionPairOptions {
  seed: number;
  /** Sheet canvas (default 768²). */
  width?: number;
  height?: number;
  /** Target frames (default 1024×576, 16:9). */
  targetWidth?: number;
  targetHeight?: number;
  lineWidth?: number;
}

/** One line-art frame with its ground truth. */
export interface ProductionFrame {
  /** RGB: black anti-aliased outlines and coloured trace lines on white. */
  lineArt: Image;
  /** The finished frame: flat colours (scenery included), black lines multiplied in, trace lines painted over. */
  colored: Image;
  /** Ground-truth region per pixel, −1 on line pixels (black or trace coverage ≥ ½). */
  targetRegions: Int32Array;
  /** Region colours for the sheet → pose task: scenery and paper are white (the sheet has no scenery). */
  regionColors: Rgb[];
  /** Region colours for frame → frame: scenery keeps its colour (the previous frame has it). */
  regionFrameColors: Rgb[];
  /** Paper and scenery regions (not part of the character). */
  regionIsBackground: boolean[];
  regionParts: string[];
}

export interface ProductionPair {
  seed: number;
  /** What makes this pair hard: 'cropped', 'mirrored', 'occluded', 'scenery', 'transparentSheet'. */
  tags: string[];
  /** The character sheet: RGB on white, or RGBA with a transparent background (tag 'transparentSheet'). */
  reference: Image;
  palette: Rgb[];
  /** Frame n: the character in a new pose. */
  target: ProductionFrame;
  /** Frame n + 1: the same shot with small motion. */
  next: ProductionFrame;
}

const DEG = Math.PI / 180;
const WHITE: Rgb = [255, 255, 255];
const SHADOW_TRACE: Rgb = [40, 90, 255];
const HIGHLIGHT_TRACE: Rgb = [240, 40, 40];

type ExtraSlot = 'pupil' | 'highlight' | 'hairShade' | 'hairLight' | 'skinShade' | 'shirtShade' | 'clip';

interface DrawPart extends Part {
  /** Drawn only over pixels of this earlier part (shade and light regions of a colour-trace pair). */
  clipTo?: string;
  trace?: Rgb;
  scenery?: boolean;
}

interface Extras {
  colors: Record<ExtraSlot, Rgb>;
  strands: number;
  buttons: number;
  clip: boolean;
  collar: boolean;
}

/** Generates one production-style pair; the same options always give the same bytes. */
export function generateProductionPair(options: ProductionPairOptions): ProductionPair {
  const rng = createRng(options.seed * 7919 + 17);
  const width = options.width ?? 768;
  const height = options.height ?? width;
  const tw = options.targetWidth ?? 1024;
  const th = options.targetHeight ?? 576;
  const lineWidth = options.lineWidth ?? Math.max(2, Math.round(Math.min(width, height) / 200));
  const character = sampleCharacter(rng);
  const extras = sampleExtras(rng, character);
  const tags: string[] = [];
  const transparentSheet = rng.chance(0.5);
  if (transparentSheet) tags.push('transparentSheet');

  const refPose = sheetPose();
  const refParts = figureParts(character, extras, refPose);
  const bbox = partsBBox(refParts, IDENTITY);
  const unit = 0.86 * Math.min(height / (bbox.y1 - bbox.y0), width / (bbox.x1 - bbox.x0));
  const refRender = render(refParts, width, height, placement(refParts, refPose, unit, width, height), lineWidth);
  const reference = finishSheet(refRender, width, height, transparentSheet);

  const pose = samplePose(rng, 1);
  const mirrored = rng.chance(0.3);
  const cropped = rng.chance(0.45);
  const zoom = cropped ? rng.range(1.35, 2.1) : 1;
  const focusY = rng.range(0.15, 0.4); // crop towards the upper body, as shots usually are
  const focusX = rng.range(0.3, 0.7);
  const withScenery = rng.chance(0.65);
  const occluded = withScenery && rng.chance(0.4);
  if (cropped) tags.push('cropped');
  if (mirrored) tags.push('mirrored');
  if (withScenery) tags.push('scenery');
  if (occluded) tags.push('occluded');
  const scenery = withScenery ? sampleScenery(rng, occluded) : undefined;
  const motion = sampleMotion(rng);
  const targetUnit = unit * Math.min(tw / width, th / height) * 1.35;

  const frame = (p: Pose, pan: number): ProductionFrame => {
    const parts = figureParts(character, extras, p);
    let m = placement(parts, p, targetUnit, tw, th);
    if (mirrored) m = compose(translate(tw, 0), compose(scale(-1, 1), m));
    if (zoom !== 1) m = compose(translate(tw * focusX, th * focusY), compose(scale(zoom), compose(translate(-tw * focusX, -th * focusY), m)));
    const all: DrawPart[] = [];
    const fig = parts.map((q) => ({ ...q, poly: applyAffine(m, q.poly) }));
    if (scenery) all.push(...scenery.back(tw, th, pan));
    all.push(...fig);
    if (scenery) all.push(...scenery.front(tw, th, pan));
    return finishFrame(render(all, tw, th, IDENTITY, lineWidth), tw, th);
  };
  const target = frame(pose, 0);
  const next = frame(movePose(pose, motion), motion.pan);
  const palette = uniqueColors(refRender.partColors.slice(1));
  return { seed: options.seed, tags, reference, palette, target, next };
}

/** A black-on-transparent line layer (RGBA) from a line-art image, as drawing apps export it. */
export function asLineLayer(lineArt: Image): Image {
  const out = createImage(lineArt.width, lineArt.height, 4);
  const ch = lineArt.channels;
  for (let i = 0; i < lineArt.width * lineArt.height; i++) {
    const r = lineArt.data[i * ch];
    const g = ch === 1 ? r : lineArt.data[i * ch + 1];
    const b = ch === 1 ? r : lineArt.data[i * ch + 2];
    const ink = 255 - Math.min(r, g, b);
    // Un-premultiply: the layer's colour is the line colour, its alpha the coverage.
    const a = ink;
    out.data[i * 4 + 3] = a;
    if (a > 0) {
      out.data[i * 4] = Math.round(255 - (255 - r) * 255 / a);
      out.data[i * 4 + 1] = Math.round(255 - (255 - g) * 255 / a);
      out.data[i * 4 + 2] = Math.round(255 - (255 - b) * 255 / a);
    }
  }
  return out;
}

/** Hue (degrees) of an RGB colour. */
function hueOf([r, g, b]: Rgb): number {
  const max = Math.max(r, g, b);
  const d = max - Math.min(r, g, b);
  if (d === 0) return 0;
  const h = max === r ? (g - b) / d : max === g ? 2 + (b - r) / d : 4 + (r - g) / d;
  return (60 * h + 360) % 360;
}

/** The colour of hue h and HSL saturation s whose CIELAB lightness is about L (bisection on HSL lightness). */
function atLightness(h: number, s: number, L: number): Rgb {
  const hue = ((h % 360) + 360) % 360;
  let lo = 0, hi = 1;
  for (let k = 0; k < 16; k++) {
    const mid = (lo + hi) / 2;
    const c = hslToRgb(hue, s, mid);
    if (rgbToLab(c[0], c[1], c[2])[0] < L) lo = mid;
    else hi = mid;
  }
  return hslToRgb(hue, s, hi);
}

function sampleExtras(rng: Rng, ch: Character): Extras {
  const darker = (c: Rgb, k: number): Rgb => [Math.round(c[0] * k), Math.round(c[1] * k), Math.round(c[2] * k)];
  const lighter = (c: Rgb, k: number): Rgb => [Math.round(c[0] + (255 - c[0]) * k), Math.round(c[1] + (255 - c[1]) * k), Math.round(c[2] + (255 - c[2]) * k)];
  const taken = Object.values(ch.colors).map((c) => rgbToLab(c[0], c[1], c[2]));
  const distinct = (make: () => Rgb): Rgb => {
    let c = make();
    for (let attempt = 0; attempt < 100; attempt++) {
      const lab = rgbToLab(c[0], c[1], c[2]);
      if (lab[0] >= 25 && taken.every((q) => deltaE(lab, q) >= 12)) break;
      c = make();
    }
    taken.push(rgbToLab(c[0], c[1], c[2]));
    return c;
  };
  return {
    colors: {
      // A dark shade of the iris hue, but never as dark as the outline's anti-aliasing (Lab L ≥ 27 even when
      // no distinct colour is found; lines are black): production pupils are a colour of their own.
      pupil: distinct(() => atLightness(hueOf(ch.colors.iris) + rng.range(-15, 15), rng.range(0.35, 0.85), rng.range(27, 40))),
      highlight: WHITE,
      hairShade: distinct(() => darker(ch.colors.hair, rng.range(0.62, 0.75))),
      hairLight: distinct(() => lighter(ch.colors.hair, rng.range(0.35, 0.5))),
      skinShade: distinct(() => darker(ch.colors.skin, rng.range(0.78, 0.86))),
      shirtShade: distinct(() => darker(ch.colors.shirt, rng.range(0.65, 0.78))),
      clip: distinct(() => hslToRgb(rng.range(0, 360), rng.range(0.5, 0.9), rng.range(0.35, 0.6))),
    },
    strands: rng.int(1, 3),
    buttons: rng.int(0, 3),
    clip: rng.chance(0.5),
    collar: rng.chance(0.5),
  };
}

/** The character's parts plus production details, back to front, in body units. */
function figureParts(ch: Character, ex: Extras, pose: Pose): DrawPart[] {
  const base = buildParts(ch, pose) as DrawPart[];
  const T = ch.torsoH;
  const hrx = 0.5 * ch.headW;
  const hry = 0.55;
  const neckTop = -T - 0.22;
  const hcy = neckTop - hry + 0.12;
  const head = rotateAbout(pose.headTilt, 0, -T - 0.1);
  const mk = (name: string, color: Rgb, poly: Polygon, m: Affine, extra: Partial<DrawPart> = {}): DrawPart =>
    ({ name, slot: 'hair' as Slot, color, poly: applyAffine(m, poly), ...extra });
  const after = new Map<string, DrawPart[]>();
  const push = (anchor: string, p: DrawPart): void => {
    if (!after.has(anchor)) after.set(anchor, []);
    after.get(anchor)!.push(p);
  };
  const hair = ch.colors.hair;
  // Shade on the lower part of the back hair (blue trace), a light patch on top (red trace).
  push('hairBack', mk('hairShade', ex.colors.hairShade, [[-2, hcy + hry * 0.35], [2, hcy + hry * 0.2], [2, hcy + 3], [-2, hcy + 3]], head, { clipTo: 'hairBack', trace: SHADOW_TRACE }));
  if (ch.longHair) {
    push('hairLong', mk('hairLongShade', ex.colors.hairShade, [[-2, hcy + ch.longHair * 0.7], [2, hcy + ch.longHair * 0.55], [2, hcy + 4], [-2, hcy + 4]], head, { clipTo: 'hairLong', trace: SHADOW_TRACE }));
    for (let s = 0; s < ex.strands; s++) {
      const x = hrx * (-0.9 + (1.8 * (s + 0.5)) / ex.strands);
      const y0 = hcy + 0.1;
      const y1 = hcy + ch.longHair + 0.45;
      push('hairLong', mk('strand', hair, [[x - 0.05, y0], [x + 0.06, y0], [x + 0.1, (y0 + y1) / 2], [x + 0.02, y1], [x - 0.08, (y0 + y1) / 2]], head));
    }
  }
  for (let s = 0; s < ex.strands; s++) {
    const x = hrx * (-0.7 + (1.4 * (s + 0.5)) / ex.strands);
    push('hairBack', mk('strand', hair, [[x, hcy - hry * 1.1], [x + 0.09, hcy - hry * 0.6], [x + 0.03, hcy - hry * 0.2], [x - 0.06, hcy - hry * 0.6]], head));
  }
  push('bangs', mk('hairLight', ex.colors.hairLight, ellipse(-hrx * 0.35, hcy - hry * 0.72, hrx * 0.28, hry * 0.1, 20), head, { clipTo: 'bangs', trace: HIGHLIGHT_TRACE }));
  // Shade under the fringe on the face, and on the neck under the chin.
  push('head', mk('faceShade', ex.colors.skinShade, [[-2, hcy - hry * 0.5], [2, hcy - hry * 0.5], [2, hcy - hry * 0.12], [-2, hcy - hry * 0.12]], head, { clipTo: 'head', trace: SHADOW_TRACE }));
  push('neck', mk('neckShade', ex.colors.skinShade, [[-1, neckTop - 1], [1, neckTop - 1], [1, neckTop + 0.12], [-1, neckTop + 0.12]], IDENTITY, { clipTo: 'neck', trace: SHADOW_TRACE }));
  const sw = ch.shoulderW / 2;
  push('torso', mk('torsoShade', ex.colors.shirtShade, [[sw * 0.45, -T - 1], [3, -T - 1], [3, 1], [sw * 0.3, 1]], IDENTITY, { clipTo: 'torso', trace: SHADOW_TRACE }));
  for (let b = 0; b < ex.buttons; b++) push('torso', mk('button', ch.colors.accent, ellipse(-0.02, -T * (0.75 - 0.2 * b), 0.055, 0.055, 16), IDENTITY));
  if (ex.collar) {
    push('neck', mk('collar', WHITE, [[-0.3, -T - 0.02], [0, -T + 0.22], [-0.05, -T + 0.02]], IDENTITY));
    push('neck', mk('collar', WHITE, [[0.3, -T - 0.02], [0, -T + 0.22], [0.05, -T + 0.02]], IDENTITY));
  }
  for (const side of ['L', 'R'] as const) {
    const sx = side === 'L' ? -1 : 1;
    const ex0 = sx * 0.23 * ch.headW + pose.gazeX;
    const ey = hcy + 0.14 + pose.gazeY;
    push('iris' + side, mk('pupil', ex.colors.pupil, ellipse(ex0, ey + 0.01, 0.035, 0.05, 16), head));
    push('iris' + side, mk('eyeHighlight', ex.colors.highlight, ellipse(ex0 - 0.03, ey - 0.04, 0.022, 0.022, 12), head));
  }
  if (ex.clip) push('bangs', mk('clip', ex.colors.clip, roundedQuad([[-hrx * 0.8, hcy - hry * 0.55], [-hrx * 0.45, hcy - hry * 0.7], [-hrx * 0.4, hcy - hry * 0.56], [-hrx * 0.75, hcy - hry * 0.41]], 0.03), head));
  const out: DrawPart[] = [];
  for (const p of base) {
    out.push(p);
    for (const q of after.get(p.name) ?? []) out.push(q);
  }
  return out;
}

interface Motion {
  shoulder: number; elbow: number; hip: number; tilt: number; gx: number; gy: number; dx: number; dy: number; pan: number;
}

function sampleMotion(rng: Rng): Motion {
  return {
    shoulder: rng.range(-5, 5) * DEG,
    elbow: rng.range(-6, 6) * DEG,
    hip: rng.range(-2, 2) * DEG,
    tilt: rng.range(-2.5, 2.5) * DEG,
    gx: rng.range(-0.008, 0.008),
    gy: rng.range(-0.005, 0.005),
    dx: rng.range(-0.012, 0.012),
    dy: rng.range(-0.008, 0.008),
    pan: rng.range(-6, 6),
  };
}

function movePose(p: Pose, m: Motion): Pose {
  return {
    ...p,
    shoulderL: p.shoulderL + m.shoulder,
    shoulderR: p.shoulderR - m.shoulder * 0.6,
    elbowL: p.elbowL + m.elbow,
    elbowR: p.elbowR + m.elbow * 0.5,
    hipL: p.hipL + m.hip,
    hipR: p.hipR - m.hip,
    headTilt: p.headTilt + m.tilt,
    gazeX: p.gazeX + m.gx,
    gazeY: p.gazeY + m.gy,
    offsetX: p.offsetX + m.dx,
    offsetY: p.offsetY + m.dy,
  };
}

interface Scenery {
  back(w: number, h: number, pan: number): DrawPart[];
  front(w: number, h: number, pan: number): DrawPart[];
}

function sampleScenery(rng: Rng, occluded: boolean): Scenery {
  const col = (): Rgb => hslToRgb(rng.range(0, 360), rng.range(0.15, 0.6), rng.range(0.45, 0.85));
  const wall = col(), floor = col(), sky = col(), frameC = col(), bush = col(), box = col();
  const horizon = rng.range(0.62, 0.8);
  const winX = rng.range(0.05, 0.7);
  const winW = rng.range(0.15, 0.25);
  const bushX = rng.range(0.1, 0.9);
  const boxX = rng.range(0.2, 0.8);
  const part = (name: string, color: Rgb, poly: Polygon): DrawPart => ({ name: 'scenery:' + name, slot: 'hair', color, poly, scenery: true });
  return {
    back(w, h, pan) {
      const px = (f: number): number => f * w + pan;
      const wx0 = px(winX), wx1 = px(winX + winW);
      const wy0 = 0.1 * h, wy1 = 0.45 * h;
      const mx = (wx0 + wx1) / 2;
      return [
        part('wall', wall, [[-10, -10], [w + 10, -10], [w + 10, horizon * h], [-10, horizon * h]]),
        part('floor', floor, [[-10, horizon * h], [w + 10, horizon * h - 0.03 * h], [w + 10, h + 10], [-10, h + 10]]),
        part('windowFrame', frameC, [[wx0, wy0], [wx1, wy0], [wx1, wy1], [wx0, wy1]]),
        part('pane', sky, [[wx0 + 6, wy0 + 6], [mx - 3, wy0 + 6], [mx - 3, wy1 - 6], [wx0 + 6, wy1 - 6]]),
        part('pane', sky, [[mx + 3, wy0 + 6], [wx1 - 6, wy0 + 6], [wx1 - 6, wy1 - 6], [mx + 3, wy1 - 6]]),
        part('bush', bush, ellipse(px(bushX), horizon * h, 0.12 * w, 0.09 * h, 30)),
      ];
    },
    front(w, h, pan) {
      if (!occluded) return [];
      const x = boxX * w + pan * 1.5;
      return [part('box', box, [[x - 0.12 * w, 0.8 * h], [x + 0.12 * w, 0.78 * h], [x + 0.13 * w, h + 10], [x - 0.13 * w, h + 10]])];
    },
  };
}

interface Rendered {
  labels: Uint16Array;
  black: Uint8Array;
  trace: Uint8Array;
  traceColor: Rgb[];
  partColors: Rgb[];
  partNames: string[];
  scenery: boolean[];
}

function render(parts: DrawPart[], width: number, height: number, m: Affine, lineWidth: number): Rendered {
  const n = width * height;
  const labels = new Uint16Array(n);
  const partColors: Rgb[] = [WHITE];
  const partNames = ['background'];
  const scenery = [false];
  const parentOf: number[] = [0];
  const traceOf: (Rgb | undefined)[] = [undefined];
  const lastLabel = new Map<string, number>();
  const scratch = new Uint16Array(n);
  parts.forEach((p, k) => {
    const id = k + 1;
    const poly = applyAffine(m, p.poly);
    if (p.clipTo) {
      const parent = lastLabel.get(p.clipTo) ?? -1;
      scratch.fill(0);
      fillPolygon(scratch, width, height, poly, 1);
      for (let i = 0; i < n; i++) if (scratch[i] && labels[i] === parent) labels[i] = id;
      parentOf.push(parent);
    } else {
      fillPolygon(labels, width, height, poly, id);
      parentOf.push(id);
    }
    lastLabel.set(p.name, id);
    partColors.push(p.color);
    partNames.push(p.name);
    scenery.push(Boolean(p.scenery));
    traceOf.push(p.trace);
  });
  // Black outlines wherever two parts meet, except shade/light against its own parent; trace lines there.
  const merged = new Uint16Array(n);
  const traced = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    merged[i] = parentOf[l] >= 0 ? parentOf[l] : l;
    traced[i] = traceOf[l] ? l : 0;
  }
  const black = outlineCoverage(merged, width, height, lineWidth);
  const trace = outlineCoverage(traced, width, height, Math.max(1.5, lineWidth * 0.6));
  return { labels, black, trace, traceColor: traceOf.map((t) => t ?? WHITE), partColors, partNames, scenery };
}

function finishSheet(r: Rendered, w: number, h: number, transparent: boolean): Image {
  const img = createImage(w, h, transparent ? 4 : 3);
  const ch = img.channels;
  for (let i = 0; i < w * h; i++) {
    const l = r.labels[i];
    const c = r.partColors[l];
    const k = 255 - r.black[i];
    if (transparent && l === 0) {
      // Outline fringe over the transparent paper: black with the coverage as alpha.
      img.data[i * 4 + 3] = r.black[i];
      continue;
    }
    for (let q = 0; q < 3; q++) img.data[i * ch + q] = Math.round((c[q] * k) / 255);
    if (ch === 4) img.data[i * 4 + 3] = 255;
  }
  return img;
}

function finishFrame(r: Rendered, w: number, h: number): ProductionFrame {
  const n = w * h;
  const lineArt = createImage(w, h, 3);
  const colored = createImage(w, h, 3);
  const isLine = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const l = r.labels[i];
    // The trace belongs to the shade side and its parent alike; its colour is the shade part's trace colour.
    const tc = r.trace[i] ? nearestTraceColor(r, i, w, h) : WHITE;
    const t = r.trace[i] / 255;
    const k = (255 - r.black[i]) / 255;
    for (let q = 0; q < 3; q++) {
      lineArt.data[i * 3 + q] = Math.round((255 * (1 - t) + tc[q] * t) * k);
      colored.data[i * 3 + q] = Math.round(r.partColors[l][q] * k);
    }
    if (r.black[i] >= 128 || r.trace[i] >= 128) isLine[i] = 1;
  }
  const gt = regionsOf(r, isLine, w, h);
  return { lineArt, colored, ...gt };
}

function nearestTraceColor(r: Rendered, i: number, w: number, h: number): Rgb {
  const x = i % w;
  const y = (i - x) / w;
  for (let d = 0; d <= 3; d++) {
    for (let dy = -d; dy <= d; dy++) {
      for (let dx = -d; dx <= d; dx++) {
        const xx = x + dx, yy = y + dy;
        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
        const c = r.traceColor[r.labels[yy * w + xx]];
        if (c !== WHITE) return c;
      }
    }
  }
  return SHADOW_TRACE;
}

function regionsOf(r: Rendered, isLine: Uint8Array, w: number, h: number): Omit<ProductionFrame, 'lineArt' | 'colored'> {
  const n = w * h;
  const regions = new Int32Array(n).fill(-1);
  const regionColors: Rgb[] = [];
  const regionFrameColors: Rgb[] = [];
  const regionIsBackground: boolean[] = [];
  const regionParts: string[] = [];
  const queue = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    if (regions[s] !== -1 || isLine[s]) continue;
    const id = regionColors.length;
    const part = r.labels[s];
    const bg = part === 0 || r.scenery[part];
    regionColors.push(bg ? WHITE : r.partColors[part]);
    regionFrameColors.push(r.partColors[part]);
    regionIsBackground.push(bg);
    regionParts.push(r.partNames[part]);
    regions[s] = id;
    let qt = 0;
    queue[qt++] = s;
    for (let qh = 0; qh < qt; qh++) {
      const i = queue[qh];
      const x = i % w;
      if (x > 0) visit(i - 1);
      if (x < w - 1) visit(i + 1);
      if (i >= w) visit(i - w);
      if (i < n - w) visit(i + w);
    }
    function visit(j: number): void {
      if (regions[j] === -1 && !isLine[j] && r.labels[j] === part) {
        regions[j] = id;
        queue[qt++] = j;
      }
    }
  }
  return { targetRegions: regions, regionColors, regionFrameColors, regionIsBackground, regionParts };
}

function uniqueColors(colors: Rgb[]): Rgb[] {
  const seen = new Set<string>();
  return colors.filter((c) => {
    const k = c.join(',');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
