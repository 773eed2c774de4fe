/** Reads the frames of a plaintext (insecure-mode) datagram, for tests that drop packets by content. */
import { parsePacketHeader } from '../../lib/wire/packet.js';
import { decodeFrames } from '../../lib/wire/frames.js';
import type { Frame } from '../../lib/wire/frame-types.js';

export interface InspectedPacket {
  kind: 'initial' | 'handshake' | '0rtt' | '1rtt';
  frames: Frame[];
}

export function inspectDatagram(data: Uint8Array): InspectedPacket[] {
  const body = data.subarray(0, data.length - 4);
  const out: InspectedPacket[] = [];
  let off = 0;
  while (off < body.length) {
    const h = parsePacketHeader(body, off, body.length, 8);
    if (h.form !== 'long' && h.form !== 'short') break;
    const pnLen = (body[off]! & 0x03) + 1;
    const payload = body.subarray(h.pnOffset + pnLen, h.end);
    out.push({ kind: h.form === 'short' ? '1rtt' : h.type, frames: decodeFrames(payload) });
    off = h.end;
  }
  return out;
}

export function hasStreamFrame(data: Uint8Array, streamId: number): boolean {
  return inspectDatagram(data).some((p) => p.frames.some((f) => f.type === 'stream' && f.streamId === streamId));
}
