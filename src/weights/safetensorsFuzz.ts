// Seeded mutations of safetensors files and the invariants every outcome must meet: either the reader
// opens and every tensor reads back within the file (spans inside the data section, no overlaps, byte
// counts that match dtype × shape), or it throws a SafetensorsError naming the file. Shared by the
// seeded sample in npm test (safetensors.fuzz.test.ts) and the 100,000-case run (npm run bench -- fuzz).
import { DTYPE_SIZE, ST_DTYPES, isStDType } from './dtype.ts';
import { SafetensorsError, type SafetensorsReader } from './safetensors.ts';

/** mulberry32: tiny, seedable, good enough to pick mutations. */
export function makeRng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick };
}
export type Rng = ReturnType<typeof makeRng>;

export interface Base { bytes: Uint8Array; headerLen: number; header: Record<string, any> }

export function splitFile(bytes: Uint8Array): Base {
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  return { bytes, headerLen, header };
}

export function assemble(headerText: string, data: Uint8Array, pad = true): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const len = pad ? Math.ceil(json.length / 8) * 8 : json.length;
  const out = new Uint8Array(8 + len + data.length).fill(0x20, 8, 8 + len);
  new DataView(out.buffer).setBigUint64(0, BigInt(len), true);
  out.set(json, 8);
  out.set(data, 8 + len);
  return out;
}

export const weirdValues: unknown[] = [0, 1, -1, 2.5, 1e20, 2 ** 53, 2 ** 64, '3', null, true, [], {}, [[[1]]], NaN];

/** Edits one entry of the parsed header, re-serialises it with a correct length field. */
export function jsonEdit(rng: Rng, base: Base): { bytes: Uint8Array; desc: string } {
  const h = structuredClone(base.header);
  const names = Object.keys(h).filter((k) => k !== '__metadata__');
  const name = rng.pick(names);
  const e = h[name];
  const dataLen = base.bytes.length - 8 - base.headerLen;
  let desc: string;
  switch (rng.int(12)) {
    case 0: e.dtype = rng.pick([...ST_DTYPES, 'F17', '', 'f32', 5, null, ['F32']]); desc = `dtype=${JSON.stringify(e.dtype)}`; break;
    case 1: {
      const i = rng.int(Math.max(1, e.shape.length));
      e.shape[i] = rng.next() < 0.5 ? rng.pick(weirdValues) : (e.shape[i] ?? 1) * rng.pick([0, 2, 3]) + rng.pick([0, 1, -1]);
      desc = `shape[${i}]=${JSON.stringify(e.shape[i])}`; break;
    }
    case 2: if (rng.next() < 0.5) e.shape.push(rng.pick([1, 2, 0])); else e.shape.pop(); desc = `shape=${JSON.stringify(e.shape)}`; break;
    case 3: e.shape = rng.pick(weirdValues); desc = `shape=${JSON.stringify(e.shape)}`; break;
    case 4: {
      const i = rng.int(2);
      e.data_offsets[i] += rng.pick([-1, 1, -4, 4, 128, -128, dataLen, 1 << 30]);
      desc = `data_offsets[${i}]→${e.data_offsets[i]}`; break;
    }
    case 5: { // shift the whole tensor: may overlap its neighbour or run off the end
      const d = rng.pick([4, -4, 64, -64, dataLen]);
      e.data_offsets = e.data_offsets.map((x: number) => x + d); desc = `data_offsets shifted ${d}`; break;
    }
    case 6: { const o = h[rng.pick(names)]; e.data_offsets = [...o.data_offsets]; e.shape = [...o.shape]; e.dtype = o.dtype; desc = 'copied a neighbour\'s offsets'; break; }
    case 7: e.data_offsets = rng.pick([[0], [0, 1, 2], 'x', [0, 2.5], [-8, 0], null, [e.data_offsets[1], e.data_offsets[0]]]); desc = `data_offsets=${JSON.stringify(e.data_offsets)}`; break;
    case 8: delete e[rng.pick(['dtype', 'shape', 'data_offsets'])]; desc = 'deleted a field'; break;
    case 9: h[name] = rng.pick(weirdValues); desc = `entry=${JSON.stringify(h[name])}`; break;
    case 10: h.__metadata__ = rng.pick([{ a: 1 }, [], 'x', null, { b: 'ok' }, { __proto__x: 'y' }]); desc = `metadata=${JSON.stringify(h.__metadata__)}`; break;
    default: {
      const start = rng.int(dataLen + 8);
      h[`new.${rng.int(1000)}`] = { dtype: rng.pick(ST_DTYPES), shape: [rng.int(5)], data_offsets: [start, start + rng.int(20)] };
      desc = 'added a tensor'; break;
    }
  }
  return { bytes: assemble(JSON.stringify(h), base.bytes.subarray(8 + base.headerLen), rng.next() < 0.8), desc };
}

/** Replacement bytes that keep the header UTF-8 and often still JSON, to reach the deeper checks. */
export const jsonChars = '{}[]":,0123456789-.eE +"aF ';

/** One random mutation of the file, described for a reproducible failure message. */
export function mutate(rng: Rng, base: Base): { bytes: Uint8Array; desc: string } {
  const { bytes, headerLen } = base;
  const kind = rng.int(7);
  if (kind === 0) { // byte flips inside the header JSON
    const out = bytes.slice();
    const k = 1 + rng.int(4);
    for (let i = 0; i < k; i++) {
      const p = 8 + rng.int(headerLen);
      const r = rng.next();
      out[p] = r < 0.3 ? rng.int(256) : r < 0.6 ? out[p] ^ (1 << rng.int(8)) : jsonChars.charCodeAt(rng.int(jsonChars.length));
    }
    return { bytes: out, desc: `${k} header byte flips` };
  }
  if (kind === 1) return jsonEdit(rng, base);
  if (kind === 2) { // truncation, biased towards the header
    const at = rng.next() < 0.5 ? rng.int(8 + headerLen + 1) : rng.int(bytes.length + 1);
    return { bytes: bytes.slice(0, at), desc: `truncated at ${at}` };
  }
  if (kind === 3) { // the header length field lies
    const out = bytes.slice();
    const dv = new DataView(out.buffer);
    const lie = rng.pick([
      BigInt(headerLen + rng.int(33) - 16), BigInt(rng.int(2 ** 32)), 0n, 2n ** 64n - 1n, 100_000_001n,
      BigInt(bytes.length - 8), BigInt(bytes.length - 7), BigInt(rng.int(bytes.length)),
    ]);
    dv.setBigUint64(0, lie, true);
    return { bytes: out, desc: `header length ${lie}` };
  }
  if (kind === 4) { // insert or delete header bytes without fixing the length
    const p = 8 + rng.int(headerLen);
    const n = 1 + rng.int(8);
    const insert = rng.next() < 0.5;
    const out = new Uint8Array(insert ? bytes.length + n : bytes.length - n);
    out.set(bytes.subarray(0, p));
    if (insert) {
      for (let i = 0; i < n; i++) out[p + i] = rng.int(256);
      out.set(bytes.subarray(p), p + n);
    } else {
      out.set(bytes.subarray(p + n), p);
    }
    return { bytes: out, desc: `${n} header bytes inserted/deleted at ${p}` };
  }
  if (kind === 5) { // data flips (must always open) plus a first-byte flip now and then
    const out = bytes.slice();
    for (let i = 0; i < 8; i++) out[8 + headerLen + rng.int(bytes.length - 8 - headerLen)] = rng.int(256);
    if (rng.next() < 0.2) out[rng.int(8)] = rng.int(256);
    return { bytes: out, desc: 'data byte flips' };
  }
  const edited = jsonEdit(rng, base); // an edit and a truncation together
  const at = rng.int(edited.bytes.length + 1);
  return { bytes: edited.bytes.slice(0, at), desc: `${edited.desc}, truncated at ${at}` };
}

/** Checks the invariants of a successful open, independently of the reader's own validation. */
export function checkReader(r: SafetensorsReader, bytes: Uint8Array): void {
  // Plain checks, not expect(): this runs ~10^5 times and must stay cheap.
  const check = (ok: boolean, what: string) => { if (!ok) throw new Error(what); };
  const headerEnd = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const spans: [number, number][] = [];
  for (const t of r.tensors.values()) {
    const where = `tensor "${t.name}"`;
    check(isStDType(t.dtype), `${where}: dtype ${t.dtype}`);
    const numel = t.shape.reduce((a, d) => a * d, 1);
    check(t.byteLength === numel * DTYPE_SIZE[t.dtype], `${where}: byteLength ${t.byteLength} ≠ numel×size`);
    check(t.byteOffset >= headerEnd && t.byteOffset + t.byteLength <= bytes.length, `${where}: outside the data section`);
    const raw = r.readRaw(t.name);
    check(raw.length === t.byteLength, `${where}: readRaw length ${raw.length}`);
    check(Buffer.compare(raw, bytes.subarray(t.byteOffset, t.byteOffset + t.byteLength)) === 0, `${where}: wrong bytes`);
    check(r.readF32(t.name).length === numel, `${where}: readF32 length`);
    if (t.byteLength > 0) spans.push([t.byteOffset, t.byteOffset + t.byteLength]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) check(spans[i][0] >= spans[i - 1][1], `spans overlap at ${spans[i][0]}`);
}

export interface Tally { opened: number; rejected: number; slowestMs: number; messages: Map<string, number> }

export function runCase(label: string, bytes: Uint8Array, open: () => SafetensorsReader, tally: Tally, desc: string): void {
  const t0 = performance.now();
  let r: SafetensorsReader | undefined;
  try {
    r = open();
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw new Error(`${desc}: threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    if (!e.message.includes(label)) throw new Error(`${desc}: the error does not name the file: ${e.message}`);
    tally.rejected++;
    // Group messages by their shape (numbers and names stripped) for the log.
    const key = e.message.replace(label, '').replace(/"[^"]*"/g, '"…"').replace(/\d+(\.\d+)?(e\+\d+)?/g, 'N').slice(0, 70);
    tally.messages.set(key, (tally.messages.get(key) ?? 0) + 1);
  }
  if (r) {
    try { checkReader(r, bytes); } catch (e) { throw new Error(`${desc}: opened, but ${(e as Error).message}`); } finally { r.close(); }
    tally.opened++;
  }
  tally.slowestMs = Math.max(tally.slowestMs, performance.now() - t0);
}

export function report(name: string, t: Tally): void {
  const top = [...t.messages].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([m, n]) => `  ${n}× ${m}`).join('\n');
  console.log(`[fuzz] ${name}: ${t.opened} opened, ${t.rejected} SafetensorsError, slowest case ${t.slowestMs.toFixed(1)} ms\n${top}`);
}

