/**
 * 0-RTT in the connection (spec/handshake.md §0-RTT, spec/wire.md §0-RTT): the client's 0-RTT write key and
 * the server's read key, kept apart from the application space's 1-RTT keys (0-RTT packets share that
 * space's packet numbers, RFC 9000 §12.3); the server's byte budget; the server parameters remembered with
 * the ticket that bind the client's 0-RTT (RFC 9000 §7.4.1); and, when the server rejects 0-RTT, sending
 * its stream data again under 1-RTT keys.
 */
import type { HandshakeSession, KeyInstall, PacketProtector } from '../crypto/types.js';
import { PetrelWireError } from '../errors.js';
import { decodeTransportParameters, DEFAULT_TRANSPORT_PARAMETERS, type TransportParameters } from '../wire/transport-params.js';
import { APP, type ConnContext } from './context.js';
import type { StreamManager } from './streams/manager.js';

export class EarlyData {
  /** Client: seals 0-RTT packets until 1-RTT keys exist (or the server rejects 0-RTT). */
  write: PacketProtector | null = null;
  /** Server: opens 0-RTT packets until the handshake completes. */
  read: PacketProtector | null = null;
  /** Server: 0-RTT packet bytes still accepted; later 0-RTT packets are dropped (the client resends them in 1-RTT). */
  budget = 0;
  /** Client: ctx.peerParams holds the remembered parameters, to be replaced by the real ones. */
  paramsRemembered = false;
  /** Set while the receiver processes a 0-RTT packet (events it causes are marked early). */
  inPacket = false;
  /** 0-RTT data the server rejected, so sent again in 1-RTT (stream frames re-queued). */
  rejected = false;
  /** Server: streams opened by 0-RTT packets (at most the stream limit; forgotten with the connection). */
  private earlyStreamsLazy: Set<number> | null = null;
  /** Server: whether stream `id` was opened by a 0-RTT packet. */
  isEarlyStream(id: number): boolean {
    return this.earlyStreamsLazy?.has(id) ?? false;
  }
  /** Server: records a stream opened by a 0-RTT packet (the set exists from the first one). */
  addEarlyStream(id: number): void {
    (this.earlyStreamsLazy ??= new Set<number>()).add(id);
  }

  constructor(
    private readonly ctx: ConnContext,
    private readonly session: HandshakeSession,
    private readonly streams: StreamManager,
  ) {}

  get active(): boolean {
    return this.write !== null || this.read !== null;
  }

  install(k: KeyInstall): void {
    if (k.write) this.write = k.write;
    if (k.read) {
      this.read = k.read;
      this.budget = this.session.maxEarlyData ?? 0;
    }
  }

  /** After the session moved: remembered parameters, rejection, and dropping keys whose time is over. */
  update(): void {
    const ctx = this.ctx;
    const s = this.session;
    if (!ctx.isClient) {
      if (s.complete) this.read = null; // late 0-RTT packets are dropped; the client resends them in 1-RTT
      return;
    }
    if (!ctx.peerParams && this.write) this.applyRemembered();
    if (s.earlyData === 'rejected' && this.write) {
      this.write = null;
      this.rejected = true;
      this.resendRejected();
    } else if (this.write && ctx.spaces[APP].write) this.write = null; // 1-RTT from now on
  }

  /** The 0-RTT-relevant limits of the remembered server parameters (RFC 9000 §7.4.1), nothing connection-specific. */
  private applyRemembered(): void {
    const bytes = this.session.earlyTransportParameters;
    if (!bytes) return;
    let p: TransportParameters;
    try {
      p = decodeTransportParameters(bytes, 'server');
    } catch (e) {
      if (e instanceof PetrelWireError) {
        this.write = null; // unusable memory: no 0-RTT, the data waits for 1-RTT
        return;
      }
      throw e;
    }
    const remembered: TransportParameters = {
      ...DEFAULT_TRANSPORT_PARAMETERS,
      initialMaxData: p.initialMaxData,
      initialMaxStreamDataBidiLocal: p.initialMaxStreamDataBidiLocal,
      initialMaxStreamDataBidiRemote: p.initialMaxStreamDataBidiRemote,
      initialMaxStreamDataUni: p.initialMaxStreamDataUni,
      initialMaxStreamsBidi: p.initialMaxStreamsBidi,
      initialMaxStreamsUni: p.initialMaxStreamsUni,
      maxDatagramFrameSize: p.maxDatagramFrameSize,
      channelsSupported: p.channelsSupported,
    };
    this.ctx.peerParams = remembered;
    this.paramsRemembered = true;
    this.streams.onPeerParams(remembered);
  }

  /**
   * The server will never acknowledge our 0-RTT packets: their stream data goes again under 1-RTT keys now
   * (RFC 9001 §4.6.2). The packets stay in flight until loss detection declares them lost (a repeat re-queue
   * of bytes already re-sent is harmless). Datagrams are unreliable and are not re-sent.
   */
  private resendRejected(): void {
    for (const p of this.ctx.recovery.unacked(APP)) {
      for (const f of p.frames) if (f.k === 'stream') this.streams.requeue(f.id, f.offset, f.length, f.fin);
    }
  }
}
