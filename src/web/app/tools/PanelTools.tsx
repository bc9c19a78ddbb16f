// Panel tools (text → panel, sketch → panel, colouring) send workflows to the server. Filled in by
// tools/*.ts; until the server answers /object_info this section explains what is missing.
import type { Comic, Page, Panel } from '../../project/schema.ts';

export function PanelTools(_props: { comic: Comic; page: Page; panel: Panel; edit: (fn: (c: Comic) => Comic, mergeKey?: string) => void; say: (m: string) => void }) {
  return null;
}
