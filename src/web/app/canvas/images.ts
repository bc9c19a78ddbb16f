// Pictures of a project, loaded once and shared by the editor and the exporters.
import { useEffect, useState } from 'react';
import { assetUrl } from '../api/projectsApi.ts';

export type ImageMap = ReadonlyMap<string, HTMLImageElement>;

const cache = new Map<string, Promise<HTMLImageElement>>();

export function loadImage(url: string): Promise<HTMLImageElement> {
  let p = cache.get(url);
  if (!p) {
    p = new Promise<HTMLImageElement>((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error(`the picture ${url.split('/').pop()} could not be loaded`));
      img.src = url;
    });
    p.catch(() => cache.delete(url));
    cache.set(url, p);
  }
  return p;
}

/** Loads every named picture; missing ones are left out (the panel shows a placeholder). */
export async function loadImages(projectId: string, names: readonly string[]): Promise<Map<string, HTMLImageElement>> {
  const entries = await Promise.all(names.map(async (n) => [n, await loadImage(assetUrl(projectId, n)).catch(() => null)] as const));
  return new Map(entries.filter((e): e is [string, HTMLImageElement] => e[1] !== null));
}

/** The loaded pictures among `names`, growing as they arrive. */
export function useImages(projectId: string, names: readonly string[]): ImageMap {
  const [map, setMap] = useState<ImageMap>(new Map());
  const key = [...names].sort().join('|');
  useEffect(() => {
    let live = true;
    for (const n of names) {
      if (map.has(n)) continue;
      loadImage(assetUrl(projectId, n)).then(
        (img) => live && setMap((m) => (m.has(n) ? m : new Map(m).set(n, img))),
        () => undefined,
      );
    }
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [projectId, key]);
  return map;
}
