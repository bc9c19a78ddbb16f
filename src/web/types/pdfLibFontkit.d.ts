// The part of @pdf-lib/fontkit the studio uses. Declared here so the studio typechecks the same way whether
// or not the package is installed yet (vite.config.ts builds a null stand-in when it is missing).
declare module '@pdf-lib/fontkit' {
  interface FontkitFont {
    hasGlyphForCodePoint(codePoint: number): boolean;
  }
  const fontkit: { create(data: Uint8Array, postscriptName?: string): FontkitFont | { fonts: FontkitFont[] } } | null;
  export default fontkit;
}
