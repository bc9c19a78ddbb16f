// The hub writes WebSocket frames it builds itself: ws's own parser must read them back, at every length
// encoding (7-bit, 16-bit and 64-bit lengths) and for text given as a string or as bytes.
import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { webSocketFrame } from './socketHub.ts';

/** ws's frame parser (exported by ws, not declared in its types). */
interface FrameReceiver {
  on(event: 'message', listener: (data: Buffer, binary: boolean) => void): void;
  write(chunk: Buffer): void;
}
const Receiver = (ws as unknown as { Receiver: new (opts: { isServer: boolean }) => FrameReceiver }).Receiver;

function readBack(frame: Buffer): { data: Buffer; binary: boolean } {
  const receiver = new Receiver({ isServer: false });
  let got: { data: Buffer; binary: boolean } | undefined;
  receiver.on('message', (data, binary) => (got = { data, binary }));
  receiver.write(frame);
  if (!got) throw new Error('ws read no message from the frame');
  return got;
}

describe('webSocketFrame', () => {
  for (const length of [0, 1, 125, 126, 65535, 65536, 70001]) {
    it(`frames a ${length}-byte text and binary payload that ws reads back`, () => {
      // Two-byte characters, so the string's length differs from its byte length.
      const text = 'é'.repeat(Math.floor(length / 2)) + 'x'.repeat(length % 2);
      const fromString = readBack(webSocketFrame(text, false));
      expect(fromString.binary).toBe(false);
      expect(fromString.data.toString('utf8')).toBe(text);
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 7) & 0xff);
      const binary = readBack(webSocketFrame(bytes, true));
      expect(binary.binary).toBe(true);
      expect(new Uint8Array(binary.data)).toEqual(bytes);
    });
  }
});
