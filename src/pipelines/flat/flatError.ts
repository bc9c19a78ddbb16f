// The error the flat colouriser throws for input it cannot colour (no lines, no foreground, …).
export class FlatColorizeError extends Error {
  override name = 'FlatColorizeError';
}
