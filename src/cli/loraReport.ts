// What the LoRAs did, printed after a generation (the README promises it): how many weights were
// patched, and every LoRA module that matched no weight of this checkpoint — usually a LoRA made for
// another model family (SDXL on SD1.5), which otherwise changes nothing and says nothing.
import type { LoraReport } from '../weights/lora.ts';

export interface LoraOutcome {
  applied: readonly { path: string }[];
  unet?: LoraReport;
  text?: LoraReport;
}

const TEXT_MODULE = /^(lora_te\d?_|text_encoder\.|te\.)/;
const UNET_MODULE = /^(lora_unet_|unet\.|model\.diffusion_model\.)/;

/** Lines for stderr: one summary line, then one warning per file with unmatched modules. Empty without LoRAs. */
export function formatLoraReport(r: LoraOutcome): string[] {
  if (!r.applied.length) return [];
  const lines = [`LoRA: ${r.applied.length} file${r.applied.length === 1 ? '' : 's'}, ${r.unet?.patched.length ?? 0} UNet and ${r.text?.patched.length ?? 0} text-encoder weights patched`];
  // Each target reports the other target's modules as unmatched too: keep only the modules meant for it.
  const unmatched = [
    ...(r.unet?.unmatched ?? []).filter((e) => !TEXT_MODULE.test(e.slice(e.lastIndexOf(': ') + 2))),
    ...(r.text?.unmatched ?? []).filter((e) => !UNET_MODULE.test(e.slice(e.lastIndexOf(': ') + 2))),
  ];
  const byFile = new Map<string, string[]>();
  for (const e of unmatched) {
    const i = e.lastIndexOf(': ');
    const list = byFile.get(e.slice(0, i)) ?? [];
    list.push(e.slice(i + 2));
    byFile.set(e.slice(0, i), list);
  }
  for (const [file, mods] of byFile) {
    lines.push(`warning: LoRA ${file}: ${mods.length} module${mods.length === 1 ? '' : 's'} matched no weight of this checkpoint (${mods.slice(0, 3).join(', ')}${mods.length > 3 ? ', …' : ''}) — is it for another model family?`);
  }
  return lines;
}
