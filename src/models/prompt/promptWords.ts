// How ComfyUI cuts a weighted segment into words and spots `embedding:name` words.

export const EMBEDDING_PREFIX = 'embedding:';

/** Words of a segment as ComfyUI splits them: newlines become spaces, only ' ' separates, empties dropped. */
export function segmentWords(text: string): string[] {
  return text.replace(/\n/g, ' ').split(' ').filter((w) => w !== '');
}

/** `embedding:Name,` → "Name": ComfyUI retries the lookup without surrounding commas. */
export function embeddingName(word: string): string {
  return word.slice(EMBEDDING_PREFIX.length).replace(/^,+|,+$/g, '');
}
