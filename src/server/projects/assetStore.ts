// A project's pictures (character sheets, generated panels, line art, colour flats, sketches) are files
// named by the SHA-256 of their bytes in <dataDir>/projects/<projectId>/. Identical uploads share one
// file, a name can never point at different bytes, and the document only ever stores these names.
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assertWritableDir, OutputExistsError, writeFileAtomic } from '../../files/atomicWrite.ts';
import { readFileLimited } from '../../files/readLimited.ts';
import { resolveInside } from '../../files/safePath.ts';
import { assetName } from '../../web/project/schema.ts';

export const ASSET_TYPES = { png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp' } as const;
export type AssetExt = keyof typeof ASSET_TYPES;

/** The picture format from the first bytes; anything else is refused (the studio stores only pictures). */
export function sniffImage(bytes: Uint8Array): AssetExt | null {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpg';
  if (b.length >= 12 && String.fromCharCode(...b.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...b.subarray(8, 12)) === 'WEBP') return 'webp';
  return null;
}

export interface AssetStore {
  /** Stores the bytes, returning their asset name; throws NotAPictureError for non-pictures. */
  put(projectId: string, bytes: Uint8Array): string;
  /** The file's path, or null when the project has no such picture. */
  path(projectId: string, name: string): string | null;
  read(projectId: string, name: string): Buffer | null;
  removeProject(projectId: string): void;
}

export class NotAPictureError extends Error {
  constructor() {
    super('only PNG, JPEG or WebP pictures can be added to a comic');
    this.name = 'NotAPictureError';
  }
}

export function openAssetStore(dataDir: string): AssetStore {
  const root = join(dataDir, 'projects');
  const folder = (projectId: string): string => resolveInside(root, projectId);
  return {
    put(projectId, bytes) {
      const ext = sniffImage(bytes);
      if (!ext) throw new NotAPictureError();
      const name = `${createHash('sha256').update(bytes).digest('hex')}.${ext}`;
      const dir = folder(projectId);
      assertWritableDir(dir);
      try {
        writeFileAtomic(join(dir, name), bytes);
      } catch (e) {
        if (!(e instanceof OutputExistsError)) throw e; // same name = same bytes: already stored
      }
      return name;
    },
    path(projectId, name) {
      if (!assetName.safeParse(name).success) return null;
      const p = resolveInside(folder(projectId), name);
      return existsSync(p) ? p : null;
    },
    read(projectId, name) {
      const p = this.path(projectId, name);
      return p ? readFileLimited(p) : null;
    },
    removeProject(projectId) {
      rmSync(folder(projectId), { recursive: true, force: true });
    },
  };
}
