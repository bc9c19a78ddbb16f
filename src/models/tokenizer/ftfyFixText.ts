// The text cleaning HF `CLIPTokenizer` (slow) applies before BPE: `ftfy.fix_text`, then
// `whitespace_clean` (collapse Python-`\s` runs to one space, strip), then `str.lower()`.
//
// ftfy 6.x `fix_text` is reproduced step for step except `fix_encoding` (mojibake repair: heuristic
// re-decoding through latin-1/cp125x guesses driven by a large "badness" regex). That step only
// changes text that already looks like mojibake ("sÃ³" → "só"); ordinary prompts pass through it
// unchanged, so skipping it is a documented difference, not a silent one.
import { HTML_ENTITIES } from './htmlEntities.ts';

const ENTITIES = new Map(Object.entries(HTML_ENTITIES));

/** Python `str.isspace()` characters — what `re.sub(r"\s+", ...)` and `str.strip()` see in Python. */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'gu');
const PY_SPACE_EDGES = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu');

/** HF `whitespace_clean`: `re.sub(r"\s+", " ", text).strip()` with Python's notion of whitespace. */
export function whitespaceClean(text: string): string {
  return text.replace(PY_SPACE_RUN, ' ').replace(PY_SPACE_EDGES, '');
}

/** The full cleaning HF CLIPTokenizer applies: ftfy, whitespace collapse, lower case. */
export function cleanClipText(text: string): string {
  return whitespaceClean(fixText(text)).toLowerCase();
}

/**
 * ftfy `fix_text` with default settings (minus mojibake repair). Text is fixed line by line; HTML
 * entities are unescaped only until a line containing '<' is met — from then on ftfy assumes the
 * text is real HTML and leaves entities alone (so "a <b>bold</b> &amp; move" keeps "&amp;").
 */
export function fixText(text: string): string {
  let out = '';
  let unescape = true;
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl + 1;
    const segment = text.slice(pos, end);
    if (unescape && segment.includes('<')) unescape = false;
    out += fixSegment(segment, unescape);
    pos = end;
  }
  return out;
}

/** ftfy `fix_and_explain` on one segment: the fixers in ftfy's order, repeated until nothing changes. */
function fixSegment(text: string, unescape: boolean): string {
  for (;;) {
    const before = text;
    if (unescape) text = unescapeHtml(text);
    text = fixC1Controls(text);
    text = fixLatinLigatures(text);
    text = fixCharacterWidth(text);
    text = uncurlQuotes(text);
    text = fixLineBreaks(text);
    text = fixSurrogates(text);
    text = removeTerminalEscapes(text);
    text = removeControlChars(text);
    text = text.normalize('NFC');
    if (text === before) return text;
  }
}

const HTML_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;
const NUMERIC_REF_RE = /^&#(?:([0-9]+)|[xX]([0-9a-fA-F]+));$/;
/**
 * Windows-1252 for bytes 0x80–0x9F as Python's "sloppy-windows-1252" reads them (the five undefined
 * bytes stay the C1 control). Spelled out because Node's TextDecoder treats windows-1252 as Latin-1.
 */
const CP1252_C1 = '€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8dŽ\x8f\x90‘’“”•–—˜™š›œ\x9džŸ';
const cp1252 = (byte: number): string => CP1252_C1[byte - 0x80];

/** ftfy `unescape_html`: named references from the table, numeric ones with Python `html.unescape` rules. */
export function unescapeHtml(text: string): string {
  return text.replace(HTML_ENTITY_RE, (ref) => {
    const named = ENTITIES.get(ref.slice(1, -1));
    if (named !== undefined) return named;
    const m = NUMERIC_REF_RE.exec(ref);
    if (!m) return ref; // ftfy keeps anything html.unescape would only half-decode
    return numericCharRef(m[1] !== undefined ? Number.parseInt(m[1], 10) : Number.parseInt(m[2], 16));
  });
}

/** Python `html._replace_charref` for a numeric reference. */
function numericCharRef(num: number): string {
  if (num === 0) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) return cp1252(num); // HTML5 "invalid charrefs" table
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  if (isInvalidCodepoint(num)) return '';
  return String.fromCodePoint(num);
}

function isInvalidCodepoint(num: number): boolean {
  return (num >= 0x1 && num <= 0x8) || num === 0xb || (num >= 0xe && num <= 0x1f) || (num >= 0x7f && num <= 0x9f)
    || (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) === 0xfffe;
}

/** ftfy `fix_c1_controls`: C1 control characters are almost always Windows-1252 bytes decoded as Latin-1. */
function fixC1Controls(text: string): string {
  return text.replace(/[\x80-\x9f]/g, (c) => cp1252(c.charCodeAt(0)));
}

const LIGATURES: Readonly<Record<string, string>> = {
  'Ĳ': 'IJ', 'ĳ': 'ij', 'ŉ': 'ʼn', 'Ǳ': 'DZ', 'ǲ': 'Dz', 'ǳ': 'dz', 'Ǆ': 'DŽ', 'ǅ': 'Dž', 'ǆ': 'dž',
  'Ǉ': 'LJ', 'ǈ': 'Lj', 'ǉ': 'lj', 'Ǌ': 'NJ', 'ǋ': 'Nj', 'ǌ': 'nj',
  'ﬀ': 'ff', 'ﬁ': 'fi', 'ﬂ': 'fl', 'ﬃ': 'ffi', 'ﬄ': 'ffl', 'ﬅ': 'ſt', 'ﬆ': 'st',
};
const LIGATURE_RE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'g');

/** ftfy `fix_latin_ligatures` (not NFKC: only these typographic ligatures and digraphs). */
function fixLatinLigatures(text: string): string {
  return text.replace(LIGATURE_RE, (c) => LIGATURES[c]);
}

/** ftfy `fix_character_width`: ideographic space and the halfwidth/fullwidth block to their NFKC forms. */
function fixCharacterWidth(text: string): string {
  return text.replace(/[\u3000\uff01-\uffef]/g, (c) => (c === '\u3000' ? ' ' : c.normalize('NFKC')));
}

/** ftfy `uncurl_quotes`. */
function uncurlQuotes(text: string): string {
  return text.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'");
}

/** ftfy `fix_line_breaks`. */
function fixLineBreaks(text: string): string {
  return text.replace(/\r\n/g, '\n').replace(/[\r\u2028\u2029\u0085]/g, '\n');
}

/** ftfy `fix_surrogates`: JS strings already pair surrogates; a lone one becomes U+FFFD. */
function fixSurrogates(text: string): string {
  return text.replace(/[\ud800-\udfff]/gu, '\ufffd');
}

/** ftfy `remove_terminal_escapes` (ANSI colour codes). Python's `\d` is any Unicode digit. */
function removeTerminalEscapes(text: string): string {
  return text.replace(/\x1b\[(?:\p{Nd}|;)*[a-zA-Z]/gu, '');
}

/** ftfy `remove_control_chars`: C0 controls except \t \n \f \r, DEL, deprecated format chars, BOM, annotation chars. */
function removeControlChars(text: string): string {
  return text.replace(/[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g, '');
}
