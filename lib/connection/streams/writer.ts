/**
 * Stream frames out: MAX_STREAMS / STREAMS_BLOCKED, the per-stream control frames (RESET_STREAM,
 * STOP_SENDING, MAX_STREAM_DATA, STREAM_DATA_BLOCKED), and STREAM data by priority, with redundant
 * bundling for thin streams and *_BLOCKED when credit runs out.
 */
import type { ByteWriter } from '../../wire/buffer.js';
import { encodeFrame, streamFrameOverhead } from '../../wire/frames.js';
import { writeIfFits } from '../frame-room.js';
import type { ConnContext } from '../context.js';
import type { SentFrame } from '../sent-frame.js';
import type { StreamState } from '../stream-state.js';
import { owesControl, type StreamManager } from './manager.js';

/** Redundant bundling applies while at most this much of a stream and of the connection is in flight. */
const RDB_MAX_BYTES = 1000;
const RDB_MAX_IN_FLIGHT = 4 * 1472;
/**
 * Packet room below which no further STREAM or DATAGRAM frame is started: its header alone (type, id,
 * offset, length) takes up to 1 + 8 + 8 + 4 bytes, so it would carry next to no data.
 */
export const MIN_DATA_ROOM = 16;

export class StreamWriter {
  constructor(
    private readonly ctx: ConnContext,
    private readonly m: StreamManager,
  ) {}

  /** Whether any stream-level frame or stream data is waiting (the scheduler and the owed set, never a scan). */
  hasPending(): boolean {
    const m = this.m;
    if (m.flow.maxDataPending || m.flow.dataBlockedPending !== null) return true;
    if (m.localMaxStreams[0].needsUpdate || m.localMaxStreams[1].needsUpdate) return true;
    if (m.streamsBlockedPending[0] !== null || m.streamsBlockedPending[1] !== null) return true;
    return false;
  }

  /** The predicate of hasStreamData, bound once (it runs for every packet built). */
  private readonly streamHasPendingFn = (st: StreamState): boolean => this.streamHasPending(st);

  hasStreamData(): boolean {
    if (this.m.scheduler.some(this.streamHasPendingFn)) return true;
    // Control frames owed by streams (kept in a set, so this is not a scan of every stream).
    if (this.m.controlOwed.size === 0) return false;
    for (const st of this.m.controlOwed) if (owesControl(st)) return true;
    return false;
  }

  writeStreamCounts(w: ByteWriter, frames: SentFrame[]): boolean {
    const m = this.m;
    let wrote = false;
    for (const k of [0, 1] as const) {
      const bidi = k === 0;
      const win = m.localMaxStreams[k];
      const max = win.needsUpdate ? win.pollUpdate() : null;
      if (max !== null) {
        if (writeIfFits(w, { type: 'max_streams', bidi, maximum: max })) {
          frames.push({ k: 'max_streams', bidi, max });
          wrote = true;
        } else win.onUpdateLost(max); // no room: the same value goes in a later packet
      }
      const blocked = m.streamsBlockedPending[k];
      if (blocked !== null && writeIfFits(w, { type: 'streams_blocked', bidi, limit: blocked })) {
        frames.push({ k: 'streams_blocked', bidi, limit: blocked });
        m.streamsBlockedPending[k] = null;
        wrote = true;
      }
    }
    return wrote;
  }

  /** Per-stream control frames, from the streams that owe some; stops at the first that does not fit. */
  writeStreamControl(w: ByteWriter, frames: SentFrame[]): boolean {
    const owed = this.m.controlOwed;
    let wrote = false;
    let full = false;
    for (const s of owed) {
      if (s.resetPending) {
        if (writeIfFits(w, { type: 'reset_stream', streamId: s.id, errorCode: s.resetCode!, finalSize: s.resetFinalSize })) {
          frames.push({ k: 'reset_stream', id: s.id, code: s.resetCode!, finalSize: s.resetFinalSize });
          s.resetPending = false;
          wrote = true;
        } else full = true;
      }
      if (s.stopPending && !full) {
        if (writeIfFits(w, { type: 'stop_sending', streamId: s.id, errorCode: s.stopCode! })) {
          frames.push({ k: 'stop_sending', id: s.id, code: s.stopCode! });
          s.stopPending = false;
          wrote = true;
        } else full = true;
      }
      if (s.maxDataPending && s.recvState === 'open' && !full) {
        if (writeIfFits(w, { type: 'max_stream_data', streamId: s.id, maximum: s.recvWindow!.limit })) {
          frames.push({ k: 'max_stream_data', id: s.id, max: s.recvWindow!.limit });
          s.maxDataPending = false;
          wrote = true;
        } else full = true;
      }
      if (s.blockedPending !== null && !full) {
        if (writeIfFits(w, { type: 'stream_data_blocked', streamId: s.id, limit: s.blockedPending })) {
          frames.push({ k: 'stream_data_blocked', id: s.id, limit: s.blockedPending });
          s.blockedPending = null;
          wrote = true;
        } else full = true;
      }
      if (!owesControl(s)) owed.delete(s); // deleting the current entry is safe while iterating
      if (full) break;
    }
    return wrote;
  }

  /**
   * Stream data of one urgency: non-incremental streams in id order (each until done or blocked),
   * then incremental streams round-robin, one frame per turn.
   */
  writeAt(u: number, w: ByteWriter, frames: SentFrame[]): boolean {
    const scheduler = this.m.scheduler;
    let wrote = false;
    const seq = scheduler.sequentialAt(u);
    while (seq.length > 0 && w.remaining > MIN_DATA_ROOM) {
      const st = seq[0]!;
      const r = this.writeChunk(st, w, frames);
      if (r === 'sent') wrote = true;
      if (r !== 'sent' || !this.streamHasPending(st)) {
        // Done for now (or blocked): leave the queue; new data or credit re-queues it.
        if (r === 'full') break;
        seq.shift();
        st.queued = false;
        if (r === 'sent') this.noteIfBlocked(st);
      }
    }
    const rr = scheduler.roundRobinAt(u);
    let turns = rr.length;
    while (turns-- > 0 && w.remaining > MIN_DATA_ROOM) {
      const st = rr.shift()!;
      st.queued = false;
      const r = this.writeChunk(st, w, frames);
      if (r === 'sent') wrote = true;
      if (r === 'full' || (r === 'sent' && this.streamHasPending(st))) scheduler.enqueue(st);
      else if (r === 'sent') this.noteIfBlocked(st);
      if (r === 'full') break;
    }
    return wrote;
  }

  /**
   * Writes one STREAM frame for a stream: 'sent', 'full' (the packet has no room left for it), or
   * 'idle' (nothing to send now: finished, reset, or blocked by flow control — then *_BLOCKED once).
   */
  private writeChunk(s: StreamState, w: ByteWriter, frames: SentFrame[]): 'sent' | 'full' | 'idle' {
    if (!s.send || s.sendState !== 'open') return 'idle';
    const limit = this.sendLimit(s);
    const send = s.send;
    if (!send.hasPending(limit)) {
      this.noteIfBlocked(s);
      return 'idle';
    }
    // Thin streams (a few small messages in flight, as a game's updates): bundle the still-unacknowledged
    // tail with the new message, so one lost packet costs no retransmission round trip — the next packet
    // already carries its bytes ("redundant data bundling"). Bulk transfers never qualify.
    // Once per new message: only when the send offset moved since the last bundling.
    if (this.ctx.opts.redundantBundling && send.written > send.sendOffset && send.sendOffset > s.bundledUpTo) {
      const unacked = send.sendOffset - send.ackedOffset;
      if (unacked > 0 && unacked <= RDB_MAX_BYTES && this.ctx.recovery.bytesInFlight <= RDB_MAX_IN_FLIGHT) {
        send.onLost(send.ackedOffset, unacked, false);
        s.bundledUpTo = send.sendOffset;
      }
    }
    const overhead = streamFrameOverhead(s.id, send.sendOffset, w.remaining, true);
    const room = w.remaining - overhead;
    if (room < 1 && !(send.finished && send.sendOffset === send.written)) return 'full';
    const before = send.sendOffset;
    const chunk = send.nextChunk(Math.max(0, room), limit);
    if (!chunk) return 'idle';
    encodeFrame(w, { type: 'stream', streamId: s.id, offset: chunk.offset, data: chunk.data, fin: chunk.fin });
    frames.push({ k: 'stream', id: s.id, offset: chunk.offset, length: chunk.data.length, fin: chunk.fin });
    const fresh = send.sendOffset - before;
    if (fresh > 0) {
      s.sendCredit.consume(fresh);
      this.m.flow.send.consume(fresh);
    }
    return 'sent';
  }

  /**
   * A stream with data waiting but no credit: record since when it is blocked (stats) and queue a
   * STREAM_DATA_BLOCKED or DATA_BLOCKED, once per limit.
   */
  private noteIfBlocked(s: StreamState): void {
    const send = s.send;
    if (!send || s.sendState !== 'open') return;
    const limit = this.sendLimit(s);
    if (send.hasPending(limit)) return;
    if (!(send.written > send.sendOffset)) return;
    if (limit === s.sendCredit.limit) {
      if (s.blockedSince === null) s.blockedSince = this.ctx.now;
      const b = s.sendCredit.pollBlocked();
      if (b !== null) {
        s.blockedPending = b;
        this.m.controlOwed.add(s);
      }
    } else this.m.flow.noteBlocked(this.ctx.now);
  }

  private streamHasPending(s: StreamState): boolean {
    if (!s.send || s.sendState !== 'open') return false;
    return s.send.hasPending(this.sendLimit(s));
  }

  /** Absolute stream offset up to which new data may be sent now (stream and connection credit). */
  private sendLimit(s: StreamState): number {
    return Math.min(s.sendCredit.limit, s.send!.sendOffset + this.m.flow.send.available);
  }
}
