// Aspect-ratio buckets as kohya's make_buckets builds them: sizes in steps of 64 whose area is at most
// resolution², sides between `min` and `max`; each image goes to the bucket closest in aspect ratio.

export interface Bucket {
  width: number;
  height: number;
}

export function makeBuckets(resolution: number, opts: { step?: number; min?: number; max?: number } = {}): Bucket[] {
  const step = opts.step ?? 64;
  const min = opts.min ?? Math.min(256, resolution);
  const max = opts.max ?? resolution * 2;
  const area = resolution * resolution;
  const out = new Map<string, Bucket>();
  for (let w = min; w <= max; w += step) {
    const h = Math.min(max, Math.floor(area / w / step) * step);
    if (h < min) continue;
    out.set(`${w}x${h}`, { width: w, height: h });
    out.set(`${h}x${w}`, { width: h, height: w });
  }
  return [...out.values()].sort((a, b) => a.width - b.width || a.height - b.height);
}

export function nearestBucket(buckets: readonly Bucket[], width: number, height: number): Bucket {
  const aspect = Math.log(width / height);
  let best = buckets[0];
  for (const b of buckets) if (Math.abs(Math.log(b.width / b.height) - aspect) < Math.abs(Math.log(best.width / best.height) - aspect)) best = b;
  return best;
}
