// RGB → grey exactly as OpenCV's cvtColor(COLOR_RGB2GRAY) does for 8-bit images: BT.601 weights in
// 14-bit fixed point, rounded by adding half before the shift. (image.ts's convertChannels uses a
// float formula; anything that must reproduce cv2 — the SDRO blueprint — goes through here.)
import { assertImage, createImage, type Image } from './image.ts';

const R2Y = 4899;
const G2Y = 9617;
const B2Y = 1868;
const SHIFT = 14;
const HALF = 1 << (SHIFT - 1);

/** cv2-exact grey: `(R*4899 + G*9617 + B*1868 + 8192) >> 14`; alpha is ignored, grey input is copied. */
export function toGray(img: Image): Image {
  assertImage(img, 'toGray');
  const out = createImage(img.width, img.height, 1);
  const n = img.width * img.height;
  const src = img.data;
  const dst = out.data;
  if (img.channels === 1) {
    dst.set(src);
    return out;
  }
  const c = img.channels;
  for (let i = 0, j = 0; i < n; i++, j += c) {
    dst[i] = (src[j] * R2Y + src[j + 1] * G2Y + src[j + 2] * B2Y + HALF) >> SHIFT;
  }
  return out;
}
