// The bundled tiny SDRO colouring model (models/default/sdro, trained by scripts/train-default-sdro.ts on
// synthetic characters): what `inkflow colorize` uses when neither --model nor --flat is given.
import { existsSync } from 'node:fs';
import { DEFAULT_SDRO_PATH } from '../models/bundledModels.ts';

export const DEFAULT_SDRO_MODEL = DEFAULT_SDRO_PATH;

/** The bundled model's folder, or undefined when this installation does not carry it. */
export function bundledSdroModel(): string | undefined {
  return existsSync(`${DEFAULT_SDRO_MODEL}/model_index.json`) ? DEFAULT_SDRO_MODEL : undefined;
}
