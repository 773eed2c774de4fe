/**
 * One request stream's message parser, sans-IO (RFC 9114 §4.1): HEADERS, then DATA frames, then optional
 * trailing HEADERS; unknown frame types skipped anywhere; control-stream frames here are H3_FRAME_UNEXPECTED.
 * A HEADERS frame whose QPACK section is blocked holds everything after it (bounded) until `unblocked()`.
 */
import { HttpError } from './errors.js';
import { FrameParser, FrameType, type FrameEvent } from './frames.js';
import type { Field } from './qpack/decoder.js';
import type { HttpSession } from './session.js';

export type MessageEvent =
  { type: 'headers'; fields: Field[] } | { type: 'data'; chunk: Uint8Array } | { type: 'trailers'; fields: Field[] } | { type: 'end' };

/** Bytes of frames held behind a blocked HEADERS frame. */
const MAX_HELD_BYTES = 1 << 20;

export class RequestStreamParser {
  private readonly parser: FrameParser;
  private phase: 'headers' | 'body' | 'done' = 'headers';
  private blocked = false;
  private held: FrameEvent[] = [];
  private heldBytes = 0;
  private ended = false;

  /** `isInterim(fields)`: a 1xx response head, after which another HEADERS frame follows. */
  constructor(
    private readonly session: HttpSession,
    readonly streamId: number,
    private readonly isInterim: (fields: Field[]) => boolean = () => false,
  ) {
    this.parser = new FrameParser(session.localSettings.maxFieldSectionSize);
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  push(data: Uint8Array): MessageEvent[] {
    const out: MessageEvent[] = [];
    for (const ev of this.parser.push(data)) this.frame(ev, out);
    return out;
  }

  /** The stream's FIN. */
  end(): MessageEvent[] {
    const out: MessageEvent[] = [];
    if (this.parser.midFrame) throw new HttpError('H3_FRAME_ERROR', 'stream ended inside a frame');
    this.ended = true;
    if (!this.blocked) this.finish(out);
    return out;
  }

  /** The blocked HEADERS section decoded (a session 'unblocked' event for this stream). */
  unblocked(fields: Field[]): MessageEvent[] {
    const out: MessageEvent[] = [];
    this.blocked = false;
    this.headersDecoded(fields, out);
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const ev of held) this.frame(ev, out);
    if (this.ended && !this.blocked) this.finish(out);
    return out;
  }

  private finish(out: MessageEvent[]): void {
    if (this.phase === 'headers') throw new HttpError('H3_REQUEST_INCOMPLETE', 'stream ended before a complete header section');
    this.phase = 'done';
    out.push({ type: 'end' });
  }

  private frame(ev: FrameEvent, out: MessageEvent[]): void {
    if (this.blocked) {
      this.heldBytes += ev.kind === 'data' ? ev.chunk.length : ev.kind === 'frame' ? ev.payload.length : 0;
      if (this.heldBytes > MAX_HELD_BYTES) throw new HttpError('H3_EXCESSIVE_LOAD', 'too much data behind a blocked header section');
      // DATA pieces point into the caller's buffer, which may be reused: copy.
      this.held.push(ev.kind === 'data' ? { kind: 'data', chunk: ev.chunk.slice() } : ev);
      return;
    }
    if (ev.kind === 'data') {
      if (this.phase !== 'body') throw new HttpError('H3_FRAME_UNEXPECTED', this.phase === 'headers' ? 'DATA before HEADERS' : 'DATA after trailers');
      out.push({ type: 'data', chunk: ev.chunk });
      return;
    }
    if (ev.kind === 'data-end') return;
    if (ev.type !== FrameType.HEADERS) throw new HttpError('H3_FRAME_UNEXPECTED', `frame 0x${ev.type.toString(16)} on a request stream`);
    if (this.phase === 'done') throw new HttpError('H3_FRAME_UNEXPECTED', 'HEADERS after trailers');
    const fields = this.session.decodeHeaders(this.streamId, ev.payload);
    if (fields === null) {
      this.blocked = true;
      return;
    }
    this.headersDecoded(fields, out);
  }

  private headersDecoded(fields: Field[], out: MessageEvent[]): void {
    if (this.phase === 'headers') {
      if (this.isInterim(fields)) return;
      this.phase = 'body';
      out.push({ type: 'headers', fields });
    } else {
      this.phase = 'done';
      out.push({ type: 'trailers', fields });
    }
  }
}
