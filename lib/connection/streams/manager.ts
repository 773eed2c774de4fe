/**
 * Streams (RFC 9000 §2–§4, §19.4–§19.14): opening (ours, within the peer's MAX_STREAMS) and implicit
 * opening of the peer's, reading and writing, reset and stop-sending, the peer's stream frames, stream
 * retirement and our MAX_STREAMS through StreamCountWindow. Frame writing is in ./writer.ts.
 */
import { PetrelError, PetrelWireError, TransportErrorCode } from '../../errors.js';
import { StreamCountWindow } from '../../stream/flow-control.js';
import { isBidi, isClientInitiated, streamId as makeStreamId, streamIndex } from '../../stream/stream-id.js';
import type { TransportParameters } from '../../wire/transport-params.js';
import { isClosingOrGone, type ConnContext, type FrameError } from '../context.js';
import { PriorityScheduler, clampUrgency } from '../scheduler.js';
import type { SentFrameHandlers } from '../sent-frame.js';
import type { FragmentBudget } from '../../stream/recv-buffer.js';
import { StreamState } from '../stream-state.js';
import { ConnectionFlow } from './flow.js';

/** Disjoint received fragments all streams of a connection may hold together (each stream: at most 4096). */
export const MAX_CONNECTION_FRAGMENTS = 16_384;

export interface StreamPriority {
  urgency?: number;
  incremental?: boolean;
}

/** Per-kind pair: index 0 bidirectional, 1 unidirectional. */
type PerKind<T> = [T, T];

/** Per-stream flow-control and buffer state (Connection.streamStats). */
export interface StreamStats {
  sendCredit: { limit: number; used: number };
  recvLimit: number;
  recvBuffered: number;
  sendBuffered: number;
  /** ms spent blocked by the peer's stream flow-control limit with data waiting. */
  timeBlocked: number;
  urgency: number;
  incremental: boolean;
}

export function owesControl(s: StreamState): boolean {
  return s.resetPending || s.stopPending || (s.maxDataPending && s.recvState === 'open') || s.blockedPending !== null;
}

export class StreamManager {
  /** Out-of-order fragments held by all streams together: a peer cannot multiply the per-stream bound by opening streams. */
  private readonly fragments: FragmentBudget = { used: 0, limit: MAX_CONNECTION_FRAGMENTS };
  readonly streams = new Map<number, StreamState>();
  readonly scheduler = new PriorityScheduler<StreamState>();
  /** Streams that may owe RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA or STREAM_DATA_BLOCKED. */
  readonly controlOwed = new Set<StreamState>();
  readonly flow: ConnectionFlow;
  private readonly nextLocalIndex: PerKind<number> = [0, 0];
  /** Limits the peer gave us. */
  private peerMaxStreams: PerKind<number> = [0, 0];
  /** Our MAX_STREAMS per kind (the peer's streams that may be open). */
  readonly localMaxStreams: PerKind<StreamCountWindow>;
  /** Highest peer index + 1 seen. */
  private readonly peerOpened: PerKind<number> = [0, 0];
  readonly streamsBlockedPending: PerKind<number | null> = [null, null];

  constructor(private readonly ctx: ConnContext) {
    this.flow = new ConnectionFlow(ctx.opts);
    this.localMaxStreams = [new StreamCountWindow(ctx.opts.maxStreamsBidi), new StreamCountWindow(ctx.opts.maxStreamsUni)];
  }

  get size(): number {
    return this.streams.size;
  }

  /** Opens a stream; returns its id, or null when the peer's stream limit is reached (STREAMS_BLOCKED is sent). */
  open(bidi: boolean, priority?: StreamPriority): number | null {
    if (isClosingOrGone(this.ctx.state)) throw new PetrelError('CONNECTION_CLOSED', 'connection is closed');
    const k = bidi ? 0 : 1;
    const index = this.nextLocalIndex[k];
    if (index >= this.peerMaxStreams[k]) {
      this.streamsBlockedPending[k] = this.peerMaxStreams[k];
      this.ctx.wake();
      return null;
    }
    this.nextLocalIndex[k] = index + 1;
    const id = makeStreamId(index, this.ctx.isClient ? 'client' : 'server', bidi);
    const s = this.create(id, true);
    if (priority?.urgency !== undefined) s.urgency = clampUrgency(priority.urgency);
    if (priority?.incremental !== undefined) s.incremental = priority.incremental;
    return id;
  }

  write(id: number, data: Uint8Array, fin: boolean): void {
    const s = this.sendable(id);
    if (data.length > 0) s.send!.write(data);
    if (fin) s.send!.finish();
    this.scheduler.enqueue(s);
    this.ctx.wake();
  }

  finish(id: number): void {
    const s = this.sendable(id);
    s.send!.finish();
    this.scheduler.enqueue(s);
    this.ctx.wake();
  }

  bufferedBytes(id: number): number {
    const s = this.streams.get(id);
    return s?.send ? s.send.bufferedBytes : 0;
  }

  /** Reads up to `max` contiguous bytes; null when nothing is readable now. */
  read(id: number, max = Infinity): Uint8Array | null {
    const ctx = this.ctx;
    const s = this.streams.get(id);
    if (!s || !s.recv || s.recvState !== 'open') return null;
    const data = s.recv.read(max);
    const consumed = s.recv.readOffset;
    let credit = false;
    if (consumed > s.countedConsumed) {
      const delta = consumed - s.countedConsumed;
      s.countedConsumed = consumed;
      const rtt = ctx.recovery.rtt.smoothed;
      s.recvWindow!.onConsumed(consumed, ctx.now, rtt);
      const connCredit = this.flow.onConsumed(delta, ctx.now, rtt);
      // Credit goes out only when the window has moved far enough (half a window): no MAX_* per read.
      if (s.recvWindow!.pollUpdate(ctx.now, rtt) !== null && s.recv.finalSize === null) {
        credit = s.maxDataPending = true;
        this.controlOwed.add(s);
      }
      if (connCredit) credit = true;
    }
    if (s.recv.readable === 0) s.readableSignaled = false;
    if (s.recv.finished) {
      s.recvState = 'done';
      this.maybeRetire(s);
    }
    // Wake the driver only on a state change, so a read never causes a busy loop while credit cannot go out.
    if (credit) ctx.wake();
    return data;
  }

  finished(id: number): boolean {
    const s = this.streams.get(id);
    if (!s) return true;
    return !!s.recv && s.recv.finished;
  }

  /** Abruptly ends our sending side (RESET_STREAM). */
  reset(id: number, errorCode: number): void {
    const s = this.streams.get(id);
    if (!s || !s.send || s.sendState !== 'open') return;
    s.sendState = 'reset';
    s.resetCode = errorCode;
    s.resetFinalSize = s.send.sendOffset;
    s.resetPending = true;
    this.controlOwed.add(s);
    s.send.reset();
    s.blockedPending = null;
    this.ctx.wake();
  }

  /** Asks the peer to stop sending (STOP_SENDING); data still arriving is discarded. */
  stopSending(id: number, errorCode: number): void {
    const s = this.streams.get(id);
    if (!s || !s.recv || s.recvState !== 'open') return;
    s.stopCode = errorCode;
    s.stopPending = true;
    this.controlOwed.add(s);
    this.ctx.wake();
  }

  setPriority(id: number, priority: StreamPriority): void {
    const s = this.streams.get(id);
    if (!s) return;
    const wasQueued = s.queued;
    this.scheduler.remove(s);
    if (priority.urgency !== undefined) s.urgency = clampUrgency(priority.urgency);
    if (priority.incremental !== undefined) s.incremental = priority.incremental;
    if (wasQueued) this.scheduler.enqueue(s);
  }

  /** Per-stream flow-control and buffer state. */
  stats(id: number): StreamStats | null {
    const s = this.streams.get(id);
    if (!s) return null;
    return {
      timeBlocked: s.timeBlocked + (s.blockedSince !== null ? this.ctx.now - s.blockedSince : 0),
      urgency: s.urgency,
      incremental: s.incremental,
      sendCredit: { limit: s.sendCredit.limit, used: s.sendCredit.used },
      recvLimit: s.recvWindow?.limit ?? 0,
      recvBuffered: s.recv?.bufferedBytes ?? 0,
      sendBuffered: s.send?.bufferedBytes ?? 0,
    };
  }

  // ── the peer's frames ──

  onStreamFrame(id: number, offset: number, data: Uint8Array, fin: boolean): FrameError | null {
    const found = this.forPeerFrame(id, 'recv');
    if ('code' in found) return found;
    const s = found.stream;
    if (!s || !s.recv || s.recvState !== 'open') return null; // closed or reset: ignore late data
    const end = offset + data.length;
    if (end > s.recvWindow!.limit) {
      return { code: TransportErrorCode.FLOW_CONTROL_ERROR, message: `stream ${id} data beyond its limit`, frameType: 0x08 };
    }
    try {
      s.recv.insert(offset, data, fin);
    } catch (e) {
      if (e instanceof PetrelWireError) return { code: e.errorCode, message: e.message, frameType: 0x08 };
      throw e;
    }
    s.recvWindow!.onReceived(s.recv.maxOffset);
    if (s.recv.maxOffset > s.countedRecvOffset) {
      const delta = s.recv.maxOffset - s.countedRecvOffset;
      s.countedRecvOffset = s.recv.maxOffset;
      if (!this.flow.onReceived(delta)) {
        return { code: TransportErrorCode.FLOW_CONTROL_ERROR, message: 'connection data beyond its limit', frameType: 0x08 };
      }
    }
    if (s.stopCode !== null) {
      // We asked the peer to stop: discard what arrives, but keep flow control honest.
      s.recv.read();
      this.read(id);
      return null;
    }
    if (!s.readableSignaled && (s.recv.readable > 0 || s.recv.finished || (s.recv.finalSize !== null && s.recv.readOffset === s.recv.finalSize))) {
      s.readableSignaled = true;
      this.ctx.events.push({ type: 'stream_readable', streamId: id });
    }
    return null;
  }

  onResetStream(id: number, errorCode: number, finalSize: number): FrameError | null {
    const ctx = this.ctx;
    const found = this.forPeerFrame(id, 'recv');
    if ('code' in found) return found;
    const s = found.stream;
    if (!s || !s.recv || s.recvState !== 'open') return null;
    if (finalSize > s.recvWindow!.limit) {
      return { code: TransportErrorCode.FLOW_CONTROL_ERROR, message: 'final size beyond the stream limit', frameType: 0x04 };
    }
    try {
      s.recv.reset(finalSize);
    } catch (e) {
      if (e instanceof PetrelWireError) return { code: e.errorCode, message: e.message, frameType: 0x04 };
      throw e;
    }
    // The whole final size counts against, and is then released from, the connection window.
    if (finalSize > s.countedRecvOffset) {
      const delta = finalSize - s.countedRecvOffset;
      s.countedRecvOffset = finalSize;
      if (!this.flow.onReceived(delta)) {
        return { code: TransportErrorCode.FLOW_CONTROL_ERROR, message: 'connection data beyond its limit', frameType: 0x04 };
      }
    }
    const released = finalSize - s.countedConsumed;
    s.countedConsumed = finalSize;
    this.flow.onConsumed(released, ctx.now, ctx.recovery.rtt.smoothed);
    s.recvState = 'reset';
    s.maxDataPending = false;
    s.stopPending = false;
    ctx.events.push({ type: 'stream_reset', streamId: id, errorCode });
    s.recvState = 'done';
    this.maybeRetire(s);
    return null;
  }

  onStopSending(id: number, errorCode: number): FrameError | null {
    const found = this.forPeerFrame(id, 'send');
    if ('code' in found) return found;
    const s = found.stream;
    if (!s || !s.send) return null;
    this.ctx.events.push({ type: 'stream_stop_sending', streamId: id, errorCode });
    // RFC 9000 §3.5: answer with RESET_STREAM carrying the same code.
    this.reset(id, errorCode);
    return null;
  }

  onMaxData(max: number, now: number): void {
    if (this.flow.onMaxData(max, now)) {
      for (const s of this.streams.values()) if (s.send && s.sendState === 'open') this.scheduler.enqueue(s);
    }
  }

  onMaxStreamData(id: number, max: number, now: number): FrameError | null {
    const found = this.forPeerFrame(id, 'send');
    if ('code' in found) return found;
    const st = found.stream;
    if (st && st.sendCredit.raise(max)) {
      if (st.blockedSince !== null) {
        st.timeBlocked += now - st.blockedSince;
        st.blockedSince = null;
      }
      this.scheduler.enqueue(st);
    }
    return null;
  }

  onMaxStreams(bidi: boolean, max: number): FrameError | null {
    if (max > 2 ** 60) return { code: TransportErrorCode.FRAME_ENCODING_ERROR, message: 'MAX_STREAMS above 2^60', frameType: 0x12 };
    const k = bidi ? 0 : 1;
    if (max > this.peerMaxStreams[k]) {
      this.peerMaxStreams[k] = max;
      this.streamsBlockedPending[k] = null;
      this.ctx.events.push({ type: 'streams_available', bidi });
    }
    return null;
  }

  /** The peer's transport parameters: stream limits, and credit for streams opened before they arrived. */
  onPeerParams(p: TransportParameters): void {
    this.flow.send.raise(p.initialMaxData);
    this.peerMaxStreams = [p.initialMaxStreamsBidi, p.initialMaxStreamsUni];
    for (const s of this.streams.values()) {
      if (!s.send) continue;
      const limit = !isBidi(s.id) ? p.initialMaxStreamDataUni : s.local ? p.initialMaxStreamDataBidiRemote : p.initialMaxStreamDataBidiLocal;
      s.sendCredit.raise(limit);
    }
  }

  /**
   * Finds (or implicitly opens) the stream a peer frame names. `dir` is the direction the frame acts on
   * from our side: 'recv' for STREAM/RESET_STREAM, 'send' for MAX_STREAM_DATA/STOP_SENDING.
   */
  private forPeerFrame(id: number, dir: 'send' | 'recv'): { stream: StreamState | null } | FrameError {
    const ctx = this.ctx;
    const bidi = isBidi(id);
    const local = isClientInitiated(id) === ctx.isClient;
    if (!bidi) {
      // Unidirectional: we may only receive on the peer's and only send on ours.
      if ((dir === 'recv' && local) || (dir === 'send' && !local)) {
        return { code: TransportErrorCode.STREAM_STATE_ERROR, message: `wrong direction for stream ${id}`, frameType: 0 };
      }
    }
    const existing = this.streams.get(id);
    if (existing) return { stream: existing };
    const k = bidi ? 0 : 1;
    const index = streamIndex(id);
    if (local) {
      if (index >= this.nextLocalIndex[k]) {
        return { code: TransportErrorCode.STREAM_STATE_ERROR, message: `stream ${id} not opened yet`, frameType: 0 };
      }
      return { stream: null }; // ours, already closed
    }
    if (index < this.peerOpened[k]) return { stream: null }; // peer's, already closed
    if (!this.localMaxStreams[k].allows(index)) {
      return { code: TransportErrorCode.STREAM_LIMIT_ERROR, message: `stream ${id} beyond the stream limit`, frameType: 0 };
    }
    // Opening a stream implicitly opens every lower-numbered one of that type (RFC 9000 §3.2).
    let last: StreamState | null = null;
    for (let i = this.peerOpened[k]; i <= index; i++) {
      const sid = makeStreamId(i, ctx.isClient ? 'server' : 'client', bidi);
      last = this.create(sid, false);
      ctx.events.push({ type: 'stream_opened', streamId: sid });
    }
    this.peerOpened[k] = index + 1;
    return { stream: last };
  }

  private create(id: number, local: boolean): StreamState {
    const bidi = isBidi(id);
    const p = this.ctx.peerParams;
    // Send limit: the peer's initial limit for this kind of stream, seen from its side.
    let sendLimit = 0;
    if (p) {
      if (!bidi) sendLimit = p.initialMaxStreamDataUni;
      else sendLimit = local ? p.initialMaxStreamDataBidiRemote : p.initialMaxStreamDataBidiLocal;
    }
    const s = new StreamState({
      id,
      local,
      canSend: bidi || local,
      canRecv: bidi || !local,
      sendLimit,
      recvWindow: this.ctx.opts.streamWindow,
      maxRecvWindow: this.ctx.opts.maxStreamWindow,
      fragments: this.fragments,
    });
    this.streams.set(id, s);
    return s;
  }

  private sendable(id: number): StreamState {
    const s = this.streams.get(id);
    if (!s || !s.send) throw new PetrelError('STREAM_STATE', `stream ${id} cannot send`);
    if (s.sendState !== 'open' || s.send.finished) throw new PetrelError('STREAM_STATE', `stream ${id} is finished or reset`);
    if (isClosingOrGone(this.ctx.state)) throw new PetrelError('CONNECTION_CLOSED', 'connection is closed');
    return s;
  }

  maybeRetire(s: StreamState): void {
    if (!s.closed || !this.streams.has(s.id)) return;
    this.streams.delete(s.id);
    this.controlOwed.delete(s);
    this.ctx.events.push({ type: 'stream_closed', streamId: s.id });
    // A closed peer stream frees a slot; MAX_STREAMS goes out once half the grant has been used and closed.
    if (!s.local) this.localMaxStreams[isBidi(s.id) ? 0 : 1].onClosed();
  }

  /** Queues a stream's lost or unacknowledged data for (re)transmission; false when it cannot send. */
  requeue(id: number, offset: number, length: number, fin: boolean): boolean {
    const s = this.streams.get(id);
    if (!s?.send || s.sendState !== 'open') return false;
    s.send.onLost(offset, length, fin);
    this.scheduler.enqueue(s);
    return true;
  }

  /** A lost control frame is owed again if the stream still wants it. */
  private owe(s: StreamState | undefined, flag: 'maxDataPending' | 'resetPending' | 'stopPending', when: (s: StreamState) => boolean): void {
    if (s && when(s)) {
      s[flag] = true;
      this.controlOwed.add(s);
    }
  }

  static readonly sentFrames: SentFrameHandlers<StreamManager> = {
    stream: {
      acked: (m, f) => {
        const s = m.streams.get(f.id);
        if (!s?.send || s.sendState === 'reset') return;
        s.send.onAck(f.offset, f.length, f.fin);
        if (s.send.allAcked) {
          s.sendState = 'done';
          m.maybeRetire(s);
        } else m.ctx.events.push({ type: 'stream_writable', streamId: s.id });
      },
      lost: (m, f) => m.requeue(f.id, f.offset, f.length, f.fin),
    },
    reset_stream: {
      acked: (m, f) => {
        const s = m.streams.get(f.id);
        if (!s) return;
        s.sendState = 'done';
        m.maybeRetire(s);
      },
      lost: (m, f) => m.owe(m.streams.get(f.id), 'resetPending', (s) => s.sendState === 'reset'),
    },
    stop_sending: {
      acked: (m, f) => {
        const s = m.streams.get(f.id);
        if (s) m.maybeRetire(s);
      },
      lost: (m, f) => m.owe(m.streams.get(f.id), 'stopPending', (s) => s.recvState === 'open' && s.stopCode !== null),
    },
    max_stream_data: { lost: (m, f) => m.owe(m.streams.get(f.id), 'maxDataPending', (s) => s.recvState === 'open') },
    max_data: { lost: (m) => void (m.flow.maxDataPending = true) },
    max_streams: { lost: (m, f) => m.localMaxStreams[f.bidi ? 0 : 1].onUpdateLost(f.max) },
  };
}
