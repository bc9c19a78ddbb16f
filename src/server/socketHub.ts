// Every open `/ws` connection, by ComfyUI session id (the `clientId` query parameter, or a fresh id).
// ComfyUI sends execution events to the client that submitted the prompt (its client_id) and to everyone
// when the prompt had none; `status` goes to everyone. One socket per id: a reconnect with the same id
// replaces the old socket, as in ComfyUI.
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Duplex } from 'node:stream';

export interface SocketHub {
  /** Registers a socket and returns its session id (the requested one, or a new one). */
  attach(ws: WebSocket, requestedId: string | undefined): string;
  /** A text message `{type, data}` to one session, or to all when `sid` is undefined. */
  send(type: string, data: unknown, sid?: string): void;
  /** A binary frame to one session, or to all when `sid` is undefined. */
  sendBinary(frame: Uint8Array, sid?: string): void;
  /**
   * Holds back the writes to session `sid`'s socket until the returned release is called, so several
   * messages go out in one system call (each message is otherwise its own write). Undefined when there is
   * no such open socket.
   */
  hold(sid: string): (() => void) | undefined;
  size(): number;
  closeAll(): void;
}

/** Sessions must be safe to echo back and to use as a key; anything else gets a fresh id. */
const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The TCP socket under a ws connection (ws keeps it in a field it does not document). */
function rawSocket(ws: WebSocket): Duplex | undefined {
  return (ws as unknown as { _socket?: Duplex })._socket;
}

/**
 * One unmasked, unfragmented server frame (RFC 6455 §5.2), header and payload in one buffer. A status
 * goes to every open socket after each prompt: built once here and written as is, it costs one write per
 * socket, where ws.send would frame it again for each socket and write header and payload as two chunks.
 * (Valid because the server negotiates no extension: ws's permessage-deflate is off by default.)
 */
export function webSocketFrame(payload: Uint8Array | string, binary: boolean): Buffer {
  const n = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  const headerLength = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + n);
  frame[0] = 0x80 | (binary ? 0x2 : 0x1); // FIN + text/binary opcode
  if (n < 126) frame[1] = n;
  else if (n < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    frame.writeUInt32BE(n >>> 0, 6);
  }
  // A text payload is encoded straight into the frame (no intermediate buffer).
  if (typeof payload === 'string') frame.write(payload, headerLength, 'utf8');
  else frame.set(payload, headerLength);
  return frame;
}

export function createSocketHub(): SocketHub {
  const sockets = new Map<string, WebSocket>();
  const deliver = (ws: WebSocket, frame: Buffer, payload: Uint8Array | string, binary: boolean): void => {
    if (ws.readyState !== ws.OPEN) return;
    const socket = rawSocket(ws);
    if (socket) {
      if (!socket.destroyed) socket.write(frame);
    } else ws.send(payload, { binary }); // a ws version without the field: its own (slower) framing
  };
  const fanOut = (payload: Uint8Array | string, binary: boolean, sid?: string): void => {
    if (sid === undefined) {
      if (sockets.size === 0) return;
      const frame = webSocketFrame(payload, binary);
      for (const ws of sockets.values()) deliver(ws, frame, payload, binary);
      return;
    }
    const ws = sockets.get(sid);
    if (ws) deliver(ws, webSocketFrame(payload, binary), payload, binary);
  };
  return {
    attach(ws, requestedId) {
      const sid = requestedId && SESSION_ID.test(requestedId) ? requestedId : randomUUID().replace(/-/g, '');
      const previous = sockets.get(sid);
      if (previous && previous !== ws) previous.close(1000, 'replaced by a new connection with the same clientId');
      sockets.set(sid, ws);
      ws.on('close', () => {
        if (sockets.get(sid) === ws) sockets.delete(sid);
      });
      return sid;
    },
    send(type, data, sid) {
      fanOut(JSON.stringify({ type, data }), false, sid);
    },
    sendBinary(frame, sid) {
      fanOut(frame, true, sid);
    },
    hold(sid) {
      const ws = sockets.get(sid);
      // ws has no public cork; the frames are written to this socket (nested corks count).
      const socket = ws && rawSocket(ws);
      if (!ws || ws.readyState !== ws.OPEN || !socket) return undefined;
      socket.cork();
      return () => socket.uncork();
    },
    size: () => sockets.size,
    closeAll() {
      for (const ws of sockets.values()) ws.terminate();
      sockets.clear();
    },
  };
}

/** ComfyUI's binary preview frame: uint32 BE event type 1 (PREVIEW_IMAGE), uint32 BE format (1 JPEG, 2 PNG), image bytes. */
export function previewFrame(format: 'JPEG' | 'PNG', bytes: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(8 + bytes.length);
  frame.writeUInt32BE(1, 0);
  frame.writeUInt32BE(format === 'JPEG' ? 1 : 2, 4);
  frame.set(bytes, 8);
  return frame;
}
