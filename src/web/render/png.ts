// PNG chunks written by hand: text chunks (the workflow that made a picture, so ComfyUI and inkflow can
// read it back), the physical size (300 dpi stays 300 dpi in print software), and a streaming encoder
// for webtoon strips taller than any canvas may be (rows are deflated as they come, via CompressionStream).

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0xffffffff): number {
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return crc;
}

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, (crc32(out.subarray(4, 8 + data.length)) ^ 0xffffffff) >>> 0);
  return out;
}

/** JSON with every non-ASCII character escaped, so it fits a Latin-1 tEXt chunk and parses back unchanged. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function textChunk(keyword: string, text: string): Uint8Array {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword)) throw new Error(`bad PNG text keyword ${JSON.stringify(keyword)}`);
  const bytes = new Uint8Array(keyword.length + 1 + text.length);
  for (let i = 0; i < keyword.length; i++) bytes[i] = keyword.charCodeAt(i);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new Error('tEXt holds Latin-1 only: escape the text first (asciiJson)');
    bytes[keyword.length + 1 + i] = c;
  }
  return pngChunk('tEXt', bytes);
}

/** pHYs: pixels per metre in both directions, so the file says it is `dpi` dots per inch. */
export function physChunk(dpi: number): Uint8Array {
  const ppm = Math.round(dpi / 0.0254);
  const data = new Uint8Array(9);
  const v = new DataView(data.buffer);
  v.setUint32(0, ppm);
  v.setUint32(4, ppm);
  data[8] = 1; // unit: metre
  return pngChunk('pHYs', data);
}

/** Inserts chunks right after IHDR (text and pHYs must come before the image data). */
export function insertChunks(png: Uint8Array, chunks: Uint8Array[]): Uint8Array {
  if (png.length < 33 || SIGNATURE.some((b, i) => png[i] !== b)) throw new Error('not a PNG file');
  const afterIhdr = 8 + 12 + new DataView(png.buffer, png.byteOffset).getUint32(8);
  const extra = chunks.reduce((s, c) => s + c.length, 0);
  const out = new Uint8Array(png.length + extra);
  out.set(png.subarray(0, afterIhdr), 0);
  let at = afterIhdr;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  out.set(png.subarray(afterIhdr), at);
  return out;
}

/** Every tEXt chunk of a PNG (keyword → text). */
export function readTextChunks(png: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let at = 8;
  while (at + 12 <= png.length) {
    const len = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    if (type === 'tEXt') {
      const data = png.subarray(at + 8, at + 8 + len);
      const zero = data.indexOf(0);
      out[String.fromCharCode(...data.subarray(0, zero))] = Array.from(data.subarray(zero + 1), (c) => String.fromCharCode(c)).join('');
    }
    if (type === 'IEND') break;
    at += 12 + len;
  }
  return out;
}

/**
 * Encodes an RGB picture given as bands of RGBA rows (each band `width × rows × 4` bytes, top to bottom)
 * into a PNG, deflating as it goes: the whole image is never in memory at once. `bands` yields the bands.
 */
export async function encodePngFromBands(
  width: number,
  height: number,
  bands: AsyncIterable<Uint8Array | Uint8ClampedArray>,
  extraChunks: Uint8Array[] = [],
): Promise<Uint8Array> {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const stream = new CompressionStream('deflate'); // zlib framing, as PNG's IDAT expects
  const writer = stream.writable.getWriter();
  const compressed: Uint8Array[] = [];
  const reading = (async () => {
    const reader = stream.readable.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      compressed.push(value);
    }
  })();
  let rows = 0;
  for await (const band of bands) {
    const n = band.length / (width * 4);
    if (!Number.isInteger(n)) throw new Error('a band must hold whole rows of RGBA pixels');
    const raw = new Uint8Array(n * (1 + width * 3));
    for (let y = 0; y < n; y++) {
      const o = y * (1 + width * 3); // filter byte 0 (none) then RGB
      for (let x = 0; x < width; x++) {
        const s = (y * width + x) * 4;
        raw[o + 1 + x * 3] = band[s];
        raw[o + 2 + x * 3] = band[s + 1];
        raw[o + 3 + x * 3] = band[s + 2];
      }
    }
    rows += n;
    if (rows > height) throw new Error(`more rows than the ${height} announced`);
    await writer.write(raw);
  }
  if (rows !== height) throw new Error(`got ${rows} rows, expected ${height}`);
  await writer.close();
  await reading;
  const idat: Uint8Array[] = [];
  // IDAT chunks of at most 1 MB.
  const all = concat(compressed);
  for (let i = 0; i < all.length; i += 1 << 20) idat.push(pngChunk('IDAT', all.subarray(i, i + (1 << 20))));
  return concat([SIGNATURE, pngChunk('IHDR', ihdr), ...extraChunks, ...idat, pngChunk('IEND', new Uint8Array(0))]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
