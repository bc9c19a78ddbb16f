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

export function createSocketHub(): SocketHub {
  const sockets = new Map<string, WebSocket>();
  const deliver = (ws: WebSocket, payload: string | Uint8Array, binary: boolean): void => {
    if (ws.readyState === ws.OPEN) ws.send(payload, { binary });
  };
  const fanOut = (payload: string | Uint8Array, binary: boolean, sid?: string): void => {
    if (sid === undefined) {
      for (const ws of sockets.values()) deliver(ws, payload, binary);
      return;
    }
    const ws = sockets.get(sid);
    if (ws) deliver(ws, payload, binary);
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
      // Encoded once: ws would turn a string into bytes again for every socket of a broadcast.
      fanOut(Buffer.from(JSON.stringify({ type, data })), false, sid);
    },
    sendBinary(frame, sid) {
      fanOut(frame, true, sid);
    },
    hold(sid) {
      const ws = sockets.get(sid);
      // ws has no public cork; its sender corks this same socket around each frame (nested corks count).
      const socket = (ws as unknown as { _socket?: Duplex } | undefined)?._socket;
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
