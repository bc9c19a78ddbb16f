// `inkflow generate --controlnet` family checks, made from file headers before anything loads: an SD1 ControlNet
// on an SDXL checkpoint, and a base SDXL ControlNet on the refiner, are usage errors that say why.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldenRoot } from '../../../test/golden/io.ts';
import { SDXL_GOLDEN, writeTinySdxlControlNet, writeTinySdxlRefiner } from '../../pipelines/generate/tinySdxlCheckpoint.ts';
import { UsageError } from '../command.ts';
import { assertControlNetFamily } from './generateSdxlOptions.ts';

const dir = mkdtempSync(join(tmpdir(), 'inkflow-cli-cn-family-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('assertControlNetFamily', () => {
  let xlControlNet: string;
  let refiner: string;
  beforeAll(async () => {
    xlControlNet = await writeTinySdxlControlNet(join(dir, 'cn_xl'));
    refiner = await writeTinySdxlRefiner(join(dir, 'refiner'));
  });

  it('accepts an SDXL ControlNet on the SDXL base', () => {
    expect(() => assertControlNetFamily(xlControlNet, SDXL_GOLDEN, true)).not.toThrow();
  });

  it('refuses an SD1 ControlNet on SDXL, naming both families', () => {
    const sd1 = join(goldenRoot, 'controlnet/cn_c16_16_32_32');
    expect(() => assertControlNetFamily(sd1, SDXL_GOLDEN, true)).toThrow(UsageError);
    expect(() => assertControlNetFamily(sd1, SDXL_GOLDEN, true)).toThrow(/is an SD1\/SD2 ControlNet but .* is an SDXL checkpoint/);
  });

  it('refuses a base SDXL ControlNet on the refiner, saying the refiner cannot feed it', () => {
    expect(() => assertControlNetFamily(xlControlNet, refiner, true)).toThrow(UsageError);
    expect(() => assertControlNetFamily(xlControlNet, refiner, true)).toThrow(/--controlnet .*cn_xl is an SDXL base ControlNet and the checkpoint is the SDXL refiner \(.*refiner\): .*OpenCLIP bigG alone with an aesthetic score.*Apply the ControlNet in the base pass/);
  });
});
