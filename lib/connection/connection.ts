/**
 * The Petrel connection: a sans-IO state machine. It is fed authenticated-or-not datagrams with `now`,
 * produces datagrams through `pollTransmit`, tells its next deadline through `pollTimeout`, and emits
 * events through `pollEvent`. It never touches sockets, timers, the clock or global randomness.
 *
 * Layout of one outgoing datagram: [Initial pkt][Handshake pkt][1-RTT pkt][CRC-32], each optional.
 */
import { PetrelError, PetrelWireError, TransportErrorCode, transportErrorName } from '../errors.js';
import { ByteReader, ByteWriter } from '../wire/buffer.js';
import {
  ackFrameSize,
  cryptoFrameOverhead,
  datagramFrameOverhead,
  decodeFrame,
  decodeFrames,
  encodeFrame,
  frameAllowedIn,
  isAckEliciting,
  isProbingFrame,
  streamFrameOverhead,
} from '../wire/frames.js';
import type { AckRange, Frame } from '../wire/frame-types.js';
import {
  CID_LENGTH,
  MIN_PN_AND_PAYLOAD,
  PETREL_VERSION,
  parsePacketHeader,
  patchLongHeaderLength,
  readPacketNumber,
  writeLongHeader,
  writeShortHeader,
} from '../wire/packet.js';
import { decodePacketNumber, encodePacketNumber } from '../wire/packet-number.js';
import {
  BASE_DATAGRAM_SIZE,
  CRC_LENGTH,
  MAX_DATAGRAM_IPV4,
  MAX_DATAGRAM_IPV6,
  MIN_INITIAL_DATAGRAM,
  appendChecksum,
} from '../wire/datagram.js';
import {
  DEFAULT_TRANSPORT_PARAMETERS,
  decodeTransportParameters,
  encodeTransportParameters,
  type TransportParameters,
} from '../wire/transport-params.js';
import { Recovery, type SentPacket, type SpaceId } from '../recovery/recovery.js';
import { createCongestionController } from '../congestion/index.js';
import { Pacer, pacerBurstBytes } from '../congestion/pacer.js';
import { Pmtud } from '../path/pmtud.js';
import { RecvWindow, SendCredit } from '../stream/flow-control.js';
import { isBidi, isClientInitiated, streamId as makeStreamId, streamIndex } from '../stream/stream-id.js';
import type { HandshakeSession, PacketProtector } from '../crypto/types.js';
import { PacketSpace, SPACE_LEVEL, SPACE_NAME } from './space.js';
import { LocalCids, PeerCids, bytesEqual } from './cid-manager.js';
import { DEFAULT_URGENCY, PriorityScheduler, URGENCY_LEVELS } from './scheduler.js';
import { StreamState } from './stream-state.js';
import { sameAddress } from './types.js';
import type {
  CloseInfo,
  ConnectionEvent,
  ConnectionOptions,
  ConnectionStats,
  CoreEnv,
  CryptoConfig,
  PeerAddress,
} from './types.js';

/** What a sent packet carried, so acknowledgement and loss can act on each frame. */
export type SentFrame =
  | { k: 'stream'; id: number; offset: number; length: number; fin: boolean }
  | { k: 'crypto'; offset: number; length: number }
  | { k: 'ack'; largest: number; ranges: readonly AckRange[]; delay: number }
  | { k: 'max_data'; max: number }
  | { k: 'max_stream_data'; id: number; max: number }
  | { k: 'max_streams'; bidi: boolean; max: number }
  | { k: 'data_blocked'; limit: number }
  | { k: 'stream_data_blocked'; id: number; limit: number }
  | { k: 'streams_blocked'; bidi: boolean; limit: number }
  | { k: 'reset_stream'; id: number; code: number; finalSize: number }
  | { k: 'stop_sending'; id: number; code: number }
  | { k: 'handshake_done' }
  | { k: 'ack_frequency'; seq: number; threshold: number }
  | { k: 'datagram'; id: number; length: number }
  | { k: 'ping' }
  | { k: 'close'; code: number; app: boolean; reason: string; frameType: number }
  | { k: 'new_cid'; seq: number; retirePriorTo: number; cid: Uint8Array }
  | { k: 'retire_cid'; seq: number }
  | { k: 'path_challenge'; data: Uint8Array }
  | { k: 'padding'; length: number };

export type ConnectionState = 'handshake' | 'established' | 'closing' | 'draining' | 'closed';

const INITIAL: SpaceId = 0;
const HANDSHAKE: SpaceId = 1;
const APP: SpaceId = 2;

const DEFAULTS = {
  idleTimeout: 30_000,
  keepAlive: 0,
  initialRtt: 333,
  maxAckDelay: 25,
  ackElicitingThreshold: 1,
  ackFrequency: true,
  maxAckRanges: 32,
  streamWindow: 256 * 1024,
  maxStreamWindow: 16 * 1024 * 1024,
  connectionWindow: 1024 * 1024,
  maxConnectionWindow: 24 * 1024 * 1024,
  maxStreamsBidi: 100,
  maxStreamsUni: 100,
  maxDatagramFrameSize: MAX_DATAGRAM_IPV4,
  datagramQueueLength: 256,
  maxUdpPayloadSize: MAX_DATAGRAM_IPV4,
  congestionControl: 'cubic' as 'cubic' | 'newreno' | 'bbr',
  pacing: true,
  pmtud: true,
  keyUpdateInterval: 2 ** 22,
  redundantBundling: true,
  channels: true,
} satisfies Required<Omit<ConnectionOptions, 'alpn' | 'serverName'>>;

/** Our min_ack_delay (µs) advertised so the peer may send ACK_FREQUENCY. */
const MIN_ACK_DELAY_US = 1000;
/**
 * The backed-off PTO is capped so that at least this many probe rounds fit in the idle timeout: on a
 * path that loses half the round trips, a connection keeps probing instead of timing out mid-transfer.
 */
const PROBES_PER_IDLE = 8;
/** Connection ids we accept from the peer and issue to it at most (active_connection_id_limit). */
const MAX_ACTIVE_CIDS = 4;
/** Smallest congestion-window room worth starting an ack-eliciting packet for. */
const MIN_SEND_ROOM = 256;
/** Redundant bundling applies while at most this much of a stream and of the connection is in flight. */
const RDB_MAX_BYTES = 1000;
const RDB_MAX_IN_FLIGHT = 4 * 1472;
/** Smallest amplification budget worth a datagram on a migrated path (an ACK or PATH_CHALLENGE packet). */
const MIN_PATH_BUDGET = 64;
/** CRYPTO data accepted ahead of the read offset. */
const MAX_CRYPTO_BUFFER = 64 * 1024;

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

export interface ConnectionInit {
  isClient: boolean;
  env: CoreEnv;
  crypto: CryptoConfig;
  options?: ConnectionOptions;
  remote: PeerAddress;
  now: number;
  /** Our source connection id (CID_LENGTH bytes). */
  localCid: Uint8Array;
  /** Client: the random initial destination id. Server: the client's source id. */
  remoteCid: Uint8Array;
  /** Server: the destination id of the client's first Initial (for transport-parameter checks). */
  originalDcid?: Uint8Array;
  /** A trace sink for this connection only (e.g. one qlog file per connection); overrides env.trace. */
  trace?: CoreEnv['trace'];
}

export class Connection {
  readonly isClient: boolean;
  readonly localCid: Uint8Array;
  /** Ids we issued to the peer and ids it issued to us (RFC 9000 §5.1). */
  private readonly localCids: LocalCids;
  private readonly peerCids: PeerCids;
  /** The peer's source id in its first packet (checked against its initial_source_connection_id). */
  private peerInitialScid: Uint8Array;
  /** The client's first destination id: Initial keys derive from it and the server echoes it. */
  readonly originalDcid: Uint8Array;
  remote: PeerAddress;
  state: ConnectionState = 'handshake';

  private readonly env: CoreEnv;
  private readonly opts: Required<Omit<ConnectionOptions, 'alpn' | 'serverName'>> & Pick<ConnectionOptions, 'alpn' | 'serverName'>;
  private readonly spaces: [PacketSpace, PacketSpace, PacketSpace];
  private readonly recovery: Recovery<SentFrame[]>;
  private readonly session: HandshakeSession;
  private readonly localParams: TransportParameters;
  private peerParams: TransportParameters | null = null;
  private readonly events: ConnectionEvent[] = [];
  private closeInfo: CloseInfo | null = null;

  // Handshake progress.
  private handshakeComplete = false;
  private handshakeConfirmed = false;
  private handshakeDonePending = false;
  private peerCidLearned = false;
  private sentHandshakePacket = false;
  /** Server: the client's address is validated (it sent a Handshake packet); until then 3x amplification limit. */
  private addressValidated: boolean;
  private bytesReceivedUnvalidated = 0;
  private bytesSentUnvalidated = 0;

  // Timers.
  private idleTimeout: number;
  private lastActivity: number;
  private ackElicitingSentSinceRecv = false;
  private closeDeadline: number | null = null;
  private closeFramePending = false;
  private closePacketsReceived = 0;
  private lastSendTime = 0;

  // Ack frequency.
  private ackThreshold: number;
  private ackMaxDelay: number;
  /** Peer-requested reordering threshold (ACK_FREQUENCY); 0 = do not ack immediately on reordering. */
  private reorderThreshold = 1;
  private lastAckFrequencySeqRecv = -1;
  private ackFrequencySeq = 0;
  private ackFrequencySentThreshold = -1;
  private ackFrequencyPending = false;
  /** Max ack delay (µs) our last ACK_FREQUENCY asked for. */
  private ackFrequencySentDelay = 0;

  // Streams.
  private readonly streams = new Map<number, StreamState>();
  private readonly scheduler = new PriorityScheduler<StreamState>();
  /** Streams that may owe RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA or STREAM_DATA_BLOCKED. */
  private readonly controlOwed = new Set<StreamState>();
  private nextLocalIndex = [0, 0]; // [bidi, uni]
  private peerMaxStreams = [0, 0]; // limits the peer gave us
  private localMaxStreams: [number, number]; // limits we gave the peer
  private peerOpened = [0, 0]; // highest peer index + 1 seen
  private peerClosed = [0, 0]; // peer-initiated streams fully closed
  private maxStreamsPending = [false, false];
  private streamsBlockedPending: [number | null, number | null] = [null, null];
  private readonly connSend = new SendCredit(0);
  private readonly connRecv: RecvWindow;
  private connRecvOffset = 0;
  private connConsumed = 0;
  private maxDataPending = false;
  private dataBlockedPending: number | null = null;

  // Datagrams.
  /** Outgoing datagrams, one FIFO per urgency. */
  private readonly datagramQueues: Array<Array<{ id: number; data: Uint8Array }>> = Array.from({ length: URGENCY_LEVELS }, () => []);
  private datagramsQueued = 0;
  private nextDatagramId = 0;

  // Stats.
  private readonly counters = {
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    packetsRetransmitted: 0,
    bytesRetransmitted: 0,
    datagramsSent: 0,
    datagramsReceived: 0,
    datagramsDropped: 0,
    acksSent: 0,
  };
  readonly drops: Record<string, number> = {};

  maxDatagramSize = BASE_DATAGRAM_SIZE;
  /** Set by the endpoint: called when an application call may have produced output. */
  onWake: (() => void) | null = null;
  /** Set by the endpoint: ids we issued or retired (it routes by them). */
  onCidChange: ((added: Uint8Array[], removed: Uint8Array[]) => void) | null = null;
  /** Set by the endpoint: the peer's reset tokens that became valid or invalid. */
  onResetTokens: ((added: Uint8Array[], removed: Uint8Array[]) => void) | null = null;
  private readonly scratchMask = new Uint8Array(5);
  /** Spreads ack-eliciting packets over the RTT at the controller's pacing rate (RFC 9002 §7.7). */
  private readonly pacer: Pacer;
  /** When pacing holds back pending data: the time it may go (a deadline for the driver). */
  private pacedUntil: number | null = null;
  /** Path MTU discovery (RFC 8899); created once the peer's max_udp_payload_size is known. */
  private pmtud: Pmtud | null = null;
  /** Set while building a PMTU probe datagram: its total size. */
  private mtuProbeSize = 0;

  // 1-RTT key update (RFC 9001 §6).
  private sendPhase = 0;
  private recvPhase = 0;
  /** The next key generation, computed once (the session advances both directions per call). */
  private cachedNextKeys: { read: PacketProtector; write: PacketProtector } | null = null;
  /** We updated our write keys; the peer's answer in the new phase is opened with this. */
  private pendingReadNext: PacketProtector | null = null;
  /** Keys of the previous phase, for late packets (numbered below firstRecvPnInPhase). */
  private prevRead: PacketProtector | null = null;
  private firstRecvPnInPhase = 0;
  private firstSentPnInPhase = 0;
  private packetsInPhase = 0;
  private keyUpdateRequested = false;
  private keyUpdates = 0;
  private readonly writer = new ByteWriter(EMPTY);
  private readonly reader = new ByteReader(EMPTY);

  constructor(init: ConnectionInit) {
    this.isClient = init.isClient;
    this.env = init.trace ? { ...init.env, trace: init.trace } : init.env;
    this.remote = init.remote;
    this.packetFrom = init.remote;
    this.localCid = init.localCid;
    this.originalDcid = init.isClient ? init.remoteCid : (init.originalDcid ?? init.remoteCid);
    this.peerInitialScid = init.remoteCid;
    this.localCids = new LocalCids(init.localCid, !init.isClient && init.env.resetToken ? init.env.resetToken(init.localCid) : null);
    this.peerCids = new PeerCids(init.remoteCid);
    const o = init.options ?? {};
    this.opts = { ...DEFAULTS, ...stripUndefined(o) };
    this.addressValidated = init.isClient;
    this.lastActivity = init.now;
    this.idleTimeout = this.opts.idleTimeout;
    this.ackThreshold = this.opts.ackElicitingThreshold;
    this.ackMaxDelay = this.opts.maxAckDelay;
    this.localMaxStreams = [this.opts.maxStreamsBidi, this.opts.maxStreamsUni];
    this.connRecv = new RecvWindow({ initialWindow: this.opts.connectionWindow, maxWindow: this.opts.maxConnectionWindow });

    this.spaces = [new PacketSpace(INITIAL), new PacketSpace(HANDSHAKE), new PacketSpace(APP)];
    const cc = createCongestionController(this.opts.congestionControl, { maxDatagramSize: this.maxDatagramSize });
    this.pacer = new Pacer({ burstBytes: pacerBurstBytes(this.maxDatagramSize), quantum: 1 });
    this.recovery = new Recovery<SentFrame[]>(
      { initialRtt: this.opts.initialRtt, maxAckDelay: 0, isServer: !this.isClient, maxPtoPeriod: this.opts.idleTimeout > 0 ? this.opts.idleTimeout / PROBES_PER_IDLE : undefined },
      cc,
    );

    const initialKeys = init.crypto.initialProtectors(this.originalDcid, this.isClient);
    this.spaces[INITIAL].read = initialKeys.read;
    this.spaces[INITIAL].write = initialKeys.write;

    this.localParams = {
      ...DEFAULT_TRANSPORT_PARAMETERS,
      maxIdleTimeout: this.opts.idleTimeout,
      maxUdpPayloadSize: this.opts.maxUdpPayloadSize,
      initialMaxData: this.opts.connectionWindow,
      initialMaxStreamDataBidiLocal: this.opts.streamWindow,
      initialMaxStreamDataBidiRemote: this.opts.streamWindow,
      initialMaxStreamDataUni: this.opts.streamWindow,
      initialMaxStreamsBidi: this.opts.maxStreamsBidi,
      initialMaxStreamsUni: this.opts.maxStreamsUni,
      maxAckDelay: this.opts.maxAckDelay,
      maxDatagramFrameSize: this.opts.maxDatagramFrameSize,
      initialSourceConnectionId: this.localCid,
      // min_ack_delay (µs) may not exceed max_ack_delay; with a zero max_ack_delay there is nothing to thin.
      minAckDelay: this.opts.ackFrequency && this.opts.maxAckDelay * 1000 >= MIN_ACK_DELAY_US ? MIN_ACK_DELAY_US : undefined,
      channelsSupported: this.opts.channels,
    };
    if (!this.isClient) {
      this.localParams.originalDestinationConnectionId = this.originalDcid;
      const token = this.localCids.get(0)!.token;
      if (token) this.localParams.statelessResetToken = token;
    }
    this.localParams.activeConnectionIdLimit = MAX_ACTIVE_CIDS;
    const tpBuf = new ByteWriter(new Uint8Array(1024));
    encodeTransportParameters(this.localParams, tpBuf, this.isClient ? 'client' : 'server');

    this.session = init.crypto.createSession({
      isClient: this.isClient,
      transportParameters: tpBuf.buf.slice(0, tpBuf.pos),
      alpn: this.opts.alpn ?? [],
      serverName: this.opts.serverName,
    });
    this.session.start();
    this.pumpSession();
  }

  /** The destination id we currently send with. */
  get remoteCid(): Uint8Array {
    return this.peerCids.current.cid;
  }

  /** Every id the peer may address us by (the endpoint routes them to this connection). */
  localConnectionIds(): Uint8Array[] {
    return [...this.localCids.all()].map((e) => e.cid);
  }

  /** Reset tokens of the peer's ids: a datagram ending in one of them is a stateless reset. */
  peerResetTokens(): Uint8Array[] {
    return this.peerCids.tokens();
  }

  // ───────────────────────────── application API ─────────────────────────────

  /** Opens a stream; returns its id, or null when the peer's stream limit is reached (STREAMS_BLOCKED is sent). */
  openStream(bidi = true, priority?: { urgency?: number; incremental?: boolean }): number | null {
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') {
      throw new PetrelError('CONNECTION_CLOSED', 'connection is closed');
    }
    const k = bidi ? 0 : 1;
    const index = this.nextLocalIndex[k]!;
    if (index >= this.peerMaxStreams[k]!) {
      this.streamsBlockedPending[k] = this.peerMaxStreams[k]!;
      this.wake();
      return null;
    }
    this.nextLocalIndex[k] = index + 1;
    const id = makeStreamId(index, this.isClient ? 'client' : 'server', bidi);
    const s = this.createStream(id, true);
    if (priority?.urgency !== undefined) s.urgency = clampUrgency(priority.urgency);
    if (priority?.incremental !== undefined) s.incremental = priority.incremental;
    return id;
  }

  /** Appends data to a stream's send buffer (all of it: backpressure is the driver's job via streamBufferedBytes). */
  streamWrite(id: number, data: Uint8Array, fin = false): void {
    const s = this.sendableStream(id);
    if (data.length > 0) s.send!.write(data);
    if (fin) s.send!.finish();
    this.enqueueStream(s);
    this.wake();
  }

  streamFinish(id: number): void {
    const s = this.sendableStream(id);
    s.send!.finish();
    this.enqueueStream(s);
    this.wake();
  }

  /** Bytes written but not yet acknowledged on a stream. */
  streamBufferedBytes(id: number): number {
    const s = this.streams.get(id);
    return s?.send ? s.send.bufferedBytes : 0;
  }

  /** Reads up to `max` contiguous bytes; null when nothing is readable now. */
  streamRead(id: number, max = Infinity): Uint8Array | null {
    const s = this.streams.get(id);
    if (!s || !s.recv || s.recvState !== 'open') return null;
    const data = s.recv.read(max);
    const consumed = s.recv.readOffset;
    let credit = false;
    if (consumed > s.countedConsumed) {
      this.connConsumed += consumed - s.countedConsumed;
      s.countedConsumed = consumed;
      const rtt = this.recovery.rtt.smoothed;
      s.recvWindow!.onConsumed(consumed, this.nowHint, rtt);
      this.connRecv.onConsumed(this.connConsumed, this.nowHint, rtt);
      // Credit goes out only when the window has moved far enough (half a window): no MAX_* per read.
      if (s.recvWindow!.pollUpdate(this.nowHint, rtt) !== null && s.recv.finalSize === null) credit = s.maxDataPending = true;
        this.controlOwed.add(s);
      if (this.connRecv.pollUpdate(this.nowHint, rtt) !== null) credit = this.maxDataPending = true;
    }
    if (s.recv.readable === 0) s.readableSignaled = false;
    if (s.recv.finished) {
      s.recvState = 'done';
      this.maybeRetireStream(s);
    }
    // Wake the driver only on a state change, so a read never causes a busy loop while credit cannot go out.
    if (credit) this.wake();
    return data;
  }

  /** Whether the peer finished the stream and every byte has been read. */
  streamFinished(id: number): boolean {
    const s = this.streams.get(id);
    if (!s) return true;
    return !!s.recv && s.recv.finished;
  }

  /** Abruptly ends our sending side (RESET_STREAM). */
  streamReset(id: number, errorCode: number): void {
    const s = this.streams.get(id);
    if (!s || !s.send || s.sendState !== 'open') return;
    s.sendState = 'reset';
    s.resetCode = errorCode;
    s.resetFinalSize = s.send.sendOffset;
    s.resetPending = true;
    this.controlOwed.add(s);
    s.send.reset();
    s.blockedPending = null;
    this.wake();
  }

  /** Asks the peer to stop sending (STOP_SENDING); data still arriving is discarded. */
  streamStopSending(id: number, errorCode: number): void {
    const s = this.streams.get(id);
    if (!s || !s.recv || s.recvState !== 'open') return;
    s.stopCode = errorCode;
    s.stopPending = true;
    this.controlOwed.add(s);
    this.wake();
  }

  /**
   * Queues an unreliable datagram at an urgency (0 most urgent – 7, default 3). Returns its id, or throws
   * a typed error when it can never fit. A full queue drops the oldest datagram of the least urgent
   * level first (counted).
   */
  sendDatagram(data: Uint8Array, urgency = DEFAULT_URGENCY): number {
    const limit = this.maxDatagramPayload();
    if (limit <= 0) throw new PetrelError('DATAGRAMS_UNSUPPORTED', 'the peer does not accept datagrams');
    if (data.length > limit) {
      throw new PetrelError('DATAGRAM_TOO_LARGE', `datagram of ${data.length} bytes exceeds ${limit}`);
    }
    const u = clampUrgency(urgency);
    if (this.datagramsQueued >= this.opts.datagramQueueLength) {
      for (let l = URGENCY_LEVELS - 1; l >= 0; l--) {
        if (this.datagramQueues[l]!.length > 0) {
          this.datagramQueues[l]!.shift();
          this.datagramsQueued--;
          break;
        }
      }
      this.counters.datagramsDropped++;
      this.countDrop('datagram_queue_full');
    }
    const id = this.nextDatagramId++;
    this.datagramQueues[u]!.push({ id, data: data.slice() });
    this.datagramsQueued++;
    this.wake();
    return id;
  }

  /** Sets a stream's priority (RFC 9218 urgency and incremental flag). */
  setStreamPriority(id: number, priority: { urgency?: number; incremental?: boolean }): void {
    const s = this.streams.get(id);
    if (!s) return;
    const wasQueued = s.queued;
    this.scheduler.remove(s);
    if (priority.urgency !== undefined) s.urgency = clampUrgency(priority.urgency);
    if (priority.incremental !== undefined) s.incremental = priority.incremental;
    if (wasQueued) this.scheduler.enqueue(s);
  }

  /** Changes the keep-alive interval (ms; 0 turns it off), e.g. on only while a player is in a match. */
  setKeepAlive(ms: number): void {
    this.opts.keepAlive = Math.max(0, ms);
    this.wake();
  }

  /** Largest datagram payload that fits one packet on the current path, honouring the peer's limit. */
  maxDatagramPayload(): number {
    const peerMax = this.peerParams?.maxDatagramFrameSize ?? 0;
    if (peerMax === 0) return 0;
    const space = this.maxDatagramSize - CRC_LENGTH - (1 + this.remoteCid.length + 4) - this.tagLength(APP);
    const fit = space - datagramFrameOverhead(space, false);
    return Math.min(fit, peerMax - datagramFrameOverhead(peerMax, false));
  }

  /** Closes the connection with an error code and reason. Idempotent. */
  close(errorCode = 0, reason = '', application = true): void {
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') return;
    this.enterClosing({ errorCode, reason, application, initiator: 'local' }, this.nowHint);
    this.wake();
  }

  private wake(): void {
    if (this.onWake) this.onWake();
  }

  pollEvent(): ConnectionEvent | null {
    return this.events.shift() ?? null;
  }

  get hasEvents(): boolean {
    return this.events.length > 0;
  }

  get isTerminated(): boolean {
    return this.state === 'closed';
  }

  get negotiatedAlpn(): string | null {
    return this.session.alpn;
  }

  /** Both sides announced channels_supported: application streams and datagrams use the channel forms (spec/wire.md §Game channels). */
  get channelsNegotiated(): boolean {
    return this.opts.channels && !!this.peerParams?.channelsSupported;
  }

  get peerTransportParameters(): TransportParameters | null {
    return this.peerParams;
  }

  get closeReason(): CloseInfo | null {
    return this.closeInfo;
  }

  stats(): ConnectionStats {
    const r = this.recovery;
    return {
      ...this.counters,
      packetsLost: r.stats.packetsLost,
      bytesLost: r.stats.bytesLost,
      spuriousLosses: r.stats.spuriousLosses,
      ptoCount: r.stats.ptoCount,
      congestionEvents: r.stats.congestionEvents,
      smoothedRtt: r.rtt.smoothed,
      minRtt: r.rtt.hasSample ? r.rtt.min : 0,
      latestRtt: r.rtt.latest,
      rttVariance: r.rtt.rttvar,
      cwnd: r.cc.window,
      ssthresh: r.cc.ssthresh,
      bytesInFlight: r.bytesInFlight,
      maxDatagramSize: this.maxDatagramSize,
      streamsOpen: this.streams.size,
      drops: { ...this.drops },
      migrations: this.migrations,
      keyUpdates: this.keyUpdates,
      deliveryRate: this.deliveryRate,
      spuriousCongestionEvents: r.stats.spuriousCongestionEvents,
      timeBlocked: this.connTimeBlocked + (this.connBlockedSince !== null ? this.nowHint - this.connBlockedSince : 0),
      pmtu: this.pmtud ? { state: this.pmtud.state, ...this.pmtud.stats } : null,
      pacingRate: this.opts.pacing ? (this.recovery.cc.pacingRate?.(this.recovery.rtt) ?? Infinity) : Infinity,
      sendCredit: { limit: this.connSend.limit, used: this.connSend.used },
      recvWindow: { limit: this.connRecv.limit, window: this.connRecv.window },
    };
  }

  /** Per-stream flow-control and buffer state. */
  streamStats(id: number):
    | {
        sendCredit: { limit: number; used: number };
        recvLimit: number;
        recvBuffered: number;
        sendBuffered: number;
        /** ms spent blocked by the peer's stream flow-control limit with data waiting. */
        timeBlocked: number;
        urgency: number;
        incremental: boolean;
      }
    | null {
    const s = this.streams.get(id);
    if (!s) return null;
    return {
      timeBlocked: s.timeBlocked + (s.blockedSince !== null ? this.nowHint - s.blockedSince : 0),
      urgency: s.urgency,
      incremental: s.incremental,
      sendCredit: { limit: s.sendCredit.limit, used: s.sendCredit.used },
      recvLimit: s.recvWindow?.limit ?? 0,
      recvBuffered: s.recv?.bufferedBytes ?? 0,
      sendBuffered: s.send?.bufferedBytes ?? 0,
    };
  }

  // ───────────────────────────── input ─────────────────────────────

  /** The `now` of the latest input; API calls between inputs use it. */
  private nowHint = 0;

  /**
   * Processes one received datagram (CRC already verified and stripped by the endpoint).
   * Bad packets are dropped and counted; protocol violations close the connection.
   */
  handleDatagram(data: Uint8Array, from: PeerAddress, now: number): void {
    this.nowHint = now;
    if (this.state === 'closed') return;
    if (!this.addressValidated) {
      this.bytesReceivedUnvalidated += data.length + CRC_LENGTH;
      this.updateAmplificationLimit();
    }
    this.counters.bytesReceived += data.length + CRC_LENGTH;
    const newPath = from.host !== this.remote.host || from.port !== this.remote.port;
    if (newPath && !this.handshakeConfirmed && this.isClient) {
      // A client accepts packets only from the server address it used (RFC 9000 §9).
      this.countDrop('unknown_path');
      return;
    }
    this.packetFrom = from;
    if (newPath && this.previousPath && sameAddress(from, this.previousPath.remote)) this.heardOnPreviousPath = true;
    let off = 0;
    while (off < data.length) {
      let end: number;
      try {
        end = this.handlePacket(data, off, now);
      } catch (e) {
        if (e instanceof PetrelWireError) {
          this.countDrop('malformed_packet');
          return;
        }
        throw e;
      }
      if (end <= off) break;
      off = end;
      if (this.isTerminated) return;
    }
  }

  /** Handles the packet at `off`; returns where the next coalesced packet starts. */
  private handlePacket(data: Uint8Array, off: number, now: number): number {
    const h = parsePacketHeader(data, off, data.length, CID_LENGTH);
    if (h.form === 'version_negotiation') {
      if (this.isClient && !this.peerCidLearned) {
        this.terminate({ errorCode: TransportErrorCode.UNSUPPORTED_VERSION, reason: 'server does not speak this version', application: false, initiator: 'peer' });
      } else this.countDrop('version_negotiation');
      return data.length;
    }
    if (h.form === 'retry') {
      this.countDrop('retry_unsupported');
      return data.length;
    }
    if (h.form === 'unsupported_version') {
      this.countDrop('version_mismatch');
      return h.end;
    }
    let spaceId: SpaceId;
    if (h.form === 'short') spaceId = APP;
    else if (h.type === 'initial') spaceId = INITIAL;
    else if (h.type === 'handshake') spaceId = HANDSHAKE;
    else {
      this.countDrop('0rtt_unsupported');
      return h.end;
    }
    const space = this.spaces[spaceId];
    if (space.discarded || !space.read) {
      this.countDrop(space.discarded ? 'space_discarded' : 'keys_unavailable');
      return h.end;
    }
    // Header protection, then packet number reconstruction.
    const protector = space.read;
    let firstByte = data[off]!;
    let pnLength: number;
    if (protector.headerProtection) {
      const sampleOffset = h.pnOffset + 4;
      if (sampleOffset + 16 > h.end) {
        this.countDrop('short_packet');
        return h.end;
      }
      protector.headerMask(data.subarray(sampleOffset, sampleOffset + 16), this.scratchMask);
      const mask = this.scratchMask;
      firstByte ^= mask[0]! & (h.form === 'long' ? 0x0f : 0x1f);
      pnLength = (firstByte & 0x03) + 1;
      data[off] = firstByte;
      for (let i = 0; i < pnLength; i++) data[h.pnOffset + i]! ^= mask[1 + i]!;
    } else {
      pnLength = (firstByte & 0x03) + 1;
    }
    if (h.pnOffset + pnLength > h.end) {
      this.countDrop('short_packet');
      return h.end;
    }
    const truncated = readPacketNumber(data, h.pnOffset, pnLength);
    const pn = decodePacketNumber(space.largestRecv, truncated, pnLength * 8);
    const payloadOffset = h.pnOffset + pnLength;
    // 1-RTT key phase (RFC 9001 §6): a flipped bit is either a late packet of the previous phase or the
    // peer's key update; which one is told by the packet number.
    let opener = protector;
    let phaseChange = false;
    if (h.form === 'short' && ((firstByte & 0x04) !== 0 ? 1 : 0) !== this.recvPhase) {
      if (this.prevRead && pn < this.firstRecvPnInPhase) opener = this.prevRead;
      else {
        const next = this.pendingReadNext ?? this.nextKeys()?.read ?? null;
        if (!next) {
          this.countDrop('key_phase_unavailable');
          return h.end;
        }
        opener = next;
        phaseChange = true;
      }
    }
    const plainEnd = opener.open(pn, data, off, payloadOffset, h.end);
    if (plainEnd < 0) {
      this.countDrop('auth_failed');
      return h.end;
    }
    if (phaseChange) this.commitReadKeyUpdate(pn, now);
    if (space.isDuplicate(pn)) {
      this.countDrop('duplicate');
      return h.end;
    }
    if (h.form === 'short' && (firstByte & 0x18) !== 0) {
      return this.protocolError(TransportErrorCode.PROTOCOL_VIOLATION, 'reserved bits set', 0, h.end);
    }
    if (h.form === 'long' && (firstByte & 0x0c) !== 0) {
      return this.protocolError(TransportErrorCode.PROTOCOL_VIOLATION, 'reserved bits set', 0, h.end);
    }
    this.counters.packetsReceived++;
    if (this.env.trace) {
      this.env.trace('transport:packet_received', { space: SPACE_NAME[spaceId], pn, size: h.end - off, frames: this.tracedFrames(data, payloadOffset, plainEnd) }, now);
    }

    // Server: a Handshake packet from the client proves its address; the Initial space can go.
    if (!this.isClient && spaceId === HANDSHAKE) {
      this.addressValidated = true;
      this.recovery.setAmplificationLimited(false);
      this.recovery.setPeerCompletedAddressValidation(true);
      if (!this.spaces[INITIAL].discarded) this.discardSpace(INITIAL, now);
    }
    // Client: the server's first Initial gives us its chosen connection id.
    if (this.isClient && h.form === 'long' && !this.peerCidLearned) {
      this.peerInitialScid = h.scid.slice();
      this.peerCids.replaceInitial(this.peerInitialScid);
      this.peerCidLearned = true;
    }

    if (this.state === 'closing') {
      // Answer with our CONNECTION_CLOSE, at a decreasing rate (1st, 2nd, 4th, 8th… packet).
      this.closePacketsReceived++;
      if ((this.closePacketsReceived & (this.closePacketsReceived - 1)) === 0) this.closeFramePending = true;
      return h.end;
    }

    const ackEliciting = this.processFrames(space, data, payloadOffset, plainEnd, now);
    if (ackEliciting === null) return data.length; // connection closed by a frame error
    this.lastActivity = now;
    this.ackElicitingSentSinceRecv = false;
    const largest = pn > space.largestRecv;
    const outOfOrder = space.onReceived(pn, now, ackEliciting);
    // The peer moved (NAT rebinding or migration): its newest non-probing packet comes from a new address.
    if (largest && this.packetNonProbing && !sameAddress(this.packetFrom, this.remote)) {
      if (this.handshakeConfirmed) this.migrateTo(this.packetFrom, data.length + CRC_LENGTH, now);
      else if (!this.isClient) {
        // A NAT rebinding during the handshake: the client cannot migrate yet, so this is its new
        // address; the handshake itself (and its 3× limit) validates it (spec/transport.md §Migration).
        this.remote = { ...this.packetFrom };
        this.migrations++;
      }
    }
    if (ackEliciting) {
      if (spaceId !== APP || (outOfOrder && this.reorderThreshold > 0) || space.ackElicitingSinceAck > this.ackThreshold) {
        space.ackImmediate = true;
      } else if (space.ackDeadline === null) {
        space.ackDeadline = now + this.ackMaxDelay;
      }
    }
    this.pumpSession();
    return h.end;
  }

  /** The frames of a received packet, decoded again for the trace only (never called without a sink). */
  private tracedFrames(data: Uint8Array, off: number, end: number): Frame[] {
    try {
      return decodeFrames(data.subarray(off, end));
    } catch {
      return [];
    }
  }

  /** Returns whether the packet was ack-eliciting, or null when a violation closed the connection. */
  private processFrames(space: PacketSpace, data: Uint8Array, off: number, end: number, now: number): boolean | null {
    const r = this.reader.reset(data, off, end);
    const level = SPACE_LEVEL[space.id]!;
    let ackEliciting = false;
    this.packetNonProbing = false;
    if (off === end) {
      this.protocolError(TransportErrorCode.PROTOCOL_VIOLATION, 'packet without frames', 0, end);
      return null;
    }
    while (r.pos < r.end) {
      let f: Frame;
      try {
        f = decodeFrame(r);
      } catch (e) {
        if (e instanceof PetrelWireError) {
          this.protocolError(e.errorCode, e.message, e.frameType ?? 0, end);
          return null;
        }
        throw e;
      }
      if (!frameAllowedIn(f, level)) {
        this.protocolError(TransportErrorCode.PROTOCOL_VIOLATION, `${f.type} not allowed in ${level} packets`, 0, end);
        return null;
      }
      if (isAckEliciting(f)) ackEliciting = true;
      if (!isProbingFrame(f)) this.packetNonProbing = true;
      const err = this.onFrame(space, f, now);
      if (err) {
        this.protocolError(err.code, err.message, err.frameType, end);
        return null;
      }
      if (this.state === 'draining' || this.state === 'closed') return null;
    }
    return ackEliciting;
  }

  private onFrame(space: PacketSpace, f: Frame, now: number): { code: number; message: string; frameType: number } | null {
    switch (f.type) {
      case 'padding':
      case 'ping':
        return null;
      case 'ack':
        return this.onAck(space, f.ranges, f.ackDelay, now);
      case 'crypto': {
        if (f.offset + f.data.length > space.cryptoRecv.readOffset + MAX_CRYPTO_BUFFER) {
          return { code: TransportErrorCode.CRYPTO_BUFFER_EXCEEDED, message: 'crypto data too far ahead', frameType: 0x06 };
        }
        space.cryptoRecv.insert(f.offset, f.data, false);
        for (let chunk = space.cryptoRecv.read(); chunk; chunk = space.cryptoRecv.read()) {
          const err = this.session.handleCrypto(SPACE_LEVEL[space.id]!, chunk);
          if (err) return { code: err.errorCode, message: `${err.reason}: ${err.message}`, frameType: 0x06 };
        }
        return null;
      }
      case 'stream':
        return this.onStreamFrame(f.streamId, f.offset, f.data, f.fin);
      case 'reset_stream':
        return this.onResetStream(f.streamId, f.errorCode, f.finalSize);
      case 'stop_sending':
        return this.onStopSending(f.streamId, f.errorCode);
      case 'max_data':
        if (this.connSend.raise(f.maximum)) {
          this.endBlocked(now);
          this.wakeBlockedStreams();
        }
        return null;
      case 'max_stream_data': {
        const s = this.streamForPeerFrame(f.streamId, 'send');
        if ('code' in s) return s;
        if (s.stream && s.stream.sendCredit.raise(f.maximum)) {
          const st = s.stream;
          if (st.blockedSince !== null) {
            st.timeBlocked += now - st.blockedSince;
            st.blockedSince = null;
          }
          this.enqueueStream(st);
        }
        return null;
      }
      case 'max_streams': {
        if (f.maximum > 2 ** 60) return { code: TransportErrorCode.FRAME_ENCODING_ERROR, message: 'MAX_STREAMS above 2^60', frameType: 0x12 };
        const k = f.bidi ? 0 : 1;
        if (f.maximum > this.peerMaxStreams[k]!) {
          this.peerMaxStreams[k] = f.maximum;
          this.streamsBlockedPending[k] = null;
          this.events.push({ type: 'streams_available', bidi: f.bidi });
        }
        return null;
      }
      case 'data_blocked':
      case 'stream_data_blocked':
      case 'streams_blocked':
        // Informational: our windows grow as the application reads; nothing to do but note it.
        return null;
      case 'new_token':
        if (!this.isClient) return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: 'NEW_TOKEN from a client', frameType: 0x07 };
        return null;
      case 'new_connection_id': {
        const res = this.peerCids.add(f.sequence, f.connectionId.slice(), f.resetToken.slice(), f.retirePriorTo, MAX_ACTIVE_CIDS);
        if (!Array.isArray(res)) return { ...res, frameType: 0x18 };
        this.onResetTokens?.([f.resetToken.slice()], res);
        return null;
      }
      case 'retire_connection_id': {
        const res = this.localCids.retire(f.sequence);
        if (res && 'code' in res) return { ...res, frameType: 0x19 };
        if (res) {
          this.onCidChange?.([], [res.cid]);
          this.issueCids();
        }
        return null;
      }
      case 'path_challenge':
        // Answer on the path the challenge came from (RFC 9000 §8.2.2).
        this.pendingPathResponse = { data: f.data.slice(), to: this.packetFrom };
        return null;
      case 'path_response':
        this.onPathResponse(f.data, now);
        return null;
      case 'connection_close': {
        const info: CloseInfo = {
          errorCode: f.errorCode,
          reason: utf8d.decode(f.reason),
          application: f.application,
          initiator: 'peer',
        };
        this.enterDraining(info, now);
        return null;
      }
      case 'handshake_done':
        if (!this.isClient) return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: 'HANDSHAKE_DONE from a client', frameType: 0x1e };
        this.onHandshakeConfirmed(now);
        return null;
      case 'immediate_ack':
        space.ackImmediate = true;
        return null;
      case 'ack_frequency': {
        if (this.localParams.minAckDelay === undefined) {
          return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: 'ACK_FREQUENCY without min_ack_delay', frameType: 0xaf };
        }
        if (f.requestMaxAckDelay < MIN_ACK_DELAY_US) {
          return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: 'requested ack delay below min_ack_delay', frameType: 0xaf };
        }
        if (f.sequence > this.lastAckFrequencySeqRecv) {
          this.lastAckFrequencySeqRecv = f.sequence;
          this.ackThreshold = f.ackElicitingThreshold;
          this.ackMaxDelay = f.requestMaxAckDelay / 1000;
          this.reorderThreshold = f.reorderingThreshold;
        }
        return null;
      }
      case 'datagram': {
        const max = this.localParams.maxDatagramFrameSize ?? 0;
        if (max === 0 || f.data.length > max) {
          return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: 'DATAGRAM exceeds max_datagram_frame_size', frameType: 0x30 };
        }
        this.counters.datagramsReceived++;
        this.events.push({ type: 'datagram', data: f.data.slice() });
        return null;
      }
    }
  }

  private pendingPathResponse: { data: Uint8Array; to: PeerAddress } | null = null;
  /** Source of the datagram being processed. */
  private packetFrom: PeerAddress;
  /** Path validation in progress (RFC 9000 §8.2): the challenge data, whether it must be (re)sent, the deadline. */
  private pathChallenge: Uint8Array | null = null;
  private pathChallengePending = false;
  private pathValidationDeadline: number | null = null;
  /** The path we came from, to fall back to when the new one fails validation. */
  private previousPath: { remote: PeerAddress; validated: boolean } | null = null;
  /** Whether the packet being processed carried a non-probing frame. */
  private packetNonProbing = false;
  private migrations = 0;

  private onAck(space: PacketSpace, ranges: readonly AckRange[], ackDelayRaw: number, now: number): { code: number; message: string; frameType: number } | null {
    const exponent = this.peerParams?.ackDelayExponent ?? DEFAULT_TRANSPORT_PARAMETERS.ackDelayExponent;
    const ackDelayMs = space.id === APP ? (ackDelayRaw * 2 ** exponent) / 1000 : 0;
    const res = this.recovery.onAckReceived(space.id, ranges, ackDelayMs, now);
    if (res.error) return { code: TransportErrorCode.PROTOCOL_VIOLATION, message: res.error, frameType: 0x02 };
    const largest = ranges[0]!.largest;
    if (largest > space.largestAckedByPeer) space.largestAckedByPeer = largest;
    if (this.pmtud && space.id === APP) this.feedBlackHoleDetector(res.acked, res.lost);
    for (const p of res.acked) {
      this.deliveredBytes += p.size;
      this.onPacketAcked(p);
    }
    this.sampleDeliveryRate(now);
    this.onPacketsLost(res.lost);
    if (this.handshakeConfirmed || !this.isClient) this.updateAckFrequency();
    return null;
  }

  private onPacketAcked(p: SentPacket<SentFrame[]>): void {
    const space = this.spaces[p.space];
    if (this.pmtud && p.space === APP && p.isPmtuProbe) {
      this.pmtud.onProbeAcked(p.pn, this.nowHint);
      this.applyMtu();
    }
    for (const f of p.frames) {
      switch (f.k) {
        case 'stream': {
          const s = this.streams.get(f.id);
          if (s?.send && s.sendState !== 'reset') {
            s.send.onAck(f.offset, f.length, f.fin);
            if (s.send.allAcked) {
              s.sendState = 'done';
              this.maybeRetireStream(s);
            } else this.events.push({ type: 'stream_writable', streamId: s.id });
          }
          break;
        }
        case 'crypto':
          if (!space.discarded) space.cryptoSend.onAck(f.offset, f.length, false);
          break;
        case 'ack':
          space.toAck.removeBelow(f.largest + 1);
          break;
        case 'reset_stream': {
          const s = this.streams.get(f.id);
          if (s) {
            s.sendState = 'done';
            this.maybeRetireStream(s);
          }
          break;
        }
        case 'stop_sending': {
          const s = this.streams.get(f.id);
          if (s) this.maybeRetireStream(s);
          break;
        }
        case 'datagram':
          this.events.push({ type: 'datagram_acked', id: f.id });
          break;
        case 'retire_cid':
          this.peerCids.retirePending.delete(f.seq);
          break;
        default:
          break;
      }
    }
  }

  private onPacketsLost(lost: readonly SentPacket<SentFrame[]>[]): void {
    for (const p of lost) {
      if (this.env.trace) this.env.trace('recovery:packet_lost', { space: SPACE_NAME[p.space], pn: p.pn }, this.nowHint);
      const space = this.spaces[p.space];
      if (this.pmtud && p.space === APP && p.isPmtuProbe) {
        this.pmtud.onProbeLost(p.pn, this.nowHint);
        continue; // a probe carries nothing to retransmit and is no congestion signal
      }
      let retransmitted = false;
      for (const f of p.frames) {
        switch (f.k) {
          case 'stream': {
            const s = this.streams.get(f.id);
            if (s?.send && s.sendState === 'open') {
              s.send.onLost(f.offset, f.length, f.fin);
              this.enqueueStream(s);
              retransmitted = true;
            }
            break;
          }
          case 'crypto':
            if (!space.discarded) {
              space.cryptoSend.onLost(f.offset, f.length, false);
              retransmitted = true;
            }
            break;
          case 'max_data':
            this.maxDataPending = true;
            break;
          case 'max_stream_data': {
            const s = this.streams.get(f.id);
            if (s && s.recvState === 'open') {
              s.maxDataPending = true;
              this.controlOwed.add(s);
            }
            break;
          }
          case 'max_streams':
            this.maxStreamsPending[f.bidi ? 0 : 1] = true;
            break;
          case 'reset_stream': {
            const s = this.streams.get(f.id);
            if (s && s.sendState === 'reset') {
              s.resetPending = true;
              this.controlOwed.add(s);
            }
            break;
          }
          case 'stop_sending': {
            const s = this.streams.get(f.id);
            if (s && s.recvState === 'open' && s.stopCode !== null) {
              s.stopPending = true;
              this.controlOwed.add(s);
            }
            break;
          }
          case 'handshake_done':
            this.handshakeDonePending = true;
            break;
          case 'ack_frequency':
            this.ackFrequencyPending = true;
            break;
          case 'datagram':
            this.events.push({ type: 'datagram_lost', id: f.id });
            break;
          case 'new_cid':
            if (this.localCids.get(f.seq)) this.localCids.pending.add(f.seq);
            break;
          case 'retire_cid':
            this.peerCids.retirePending.add(f.seq);
            break;
          case 'path_challenge':
            if (this.pathChallenge) this.pathChallengePending = true;
            break;
          default:
            break;
        }
      }
      if (retransmitted) {
        this.counters.packetsRetransmitted++;
        this.counters.bytesRetransmitted += p.size;
      }
    }
  }

  private onStreamFrame(id: number, offset: number, data: Uint8Array, fin: boolean): { code: number; message: string; frameType: number } | null {
    const found = this.streamForPeerFrame(id, 'recv');
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
      this.connRecvOffset += s.recv.maxOffset - s.countedRecvOffset;
      s.countedRecvOffset = s.recv.maxOffset;
      if (!this.connRecv.onReceived(this.connRecvOffset)) {
        return { code: TransportErrorCode.FLOW_CONTROL_ERROR, message: 'connection data beyond its limit', frameType: 0x08 };
      }
    }
    if (s.stopCode !== null) {
      // We asked the peer to stop: discard what arrives, but keep flow control honest.
      s.recv.read();
      this.streamRead(id);
      return null;
    }
    if (!s.readableSignaled && (s.recv.readable > 0 || s.recv.finished || (s.recv.finalSize !== null && s.recv.readOffset === s.recv.finalSize))) {
      s.readableSignaled = true;
      this.events.push({ type: 'stream_readable', streamId: id });
    }
    return null;
  }

  private onResetStream(id: number, errorCode: number, finalSize: number): { code: number; message: string; frameType: number } | null {
    const found = this.streamForPeerFrame(id, 'recv');
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
      this.connRecvOffset += finalSize - s.countedRecvOffset;
      s.countedRecvOffset = finalSize;
      if (!this.connRecv.onReceived(this.connRecvOffset)) {
        return { code: TransportErrorCode.FLOW_CONTROL_ERROR, message: 'connection data beyond its limit', frameType: 0x04 };
      }
    }
    this.connConsumed += finalSize - s.countedConsumed;
    s.countedConsumed = finalSize;
    this.connRecv.onConsumed(this.connConsumed, this.nowHint, this.recovery.rtt.smoothed);
    if (this.connRecv.pollUpdate(this.nowHint, this.recovery.rtt.smoothed) !== null) this.maxDataPending = true;
    s.recvState = 'reset';
    s.maxDataPending = false;
    s.stopPending = false;
    this.events.push({ type: 'stream_reset', streamId: id, errorCode });
    s.recvState = 'done';
    this.maybeRetireStream(s);
    return null;
  }

  private onStopSending(id: number, errorCode: number): { code: number; message: string; frameType: number } | null {
    const found = this.streamForPeerFrame(id, 'send');
    if ('code' in found) return found;
    const s = found.stream;
    if (!s || !s.send) return null;
    this.events.push({ type: 'stream_stop_sending', streamId: id, errorCode });
    // RFC 9000 §3.5: answer with RESET_STREAM carrying the same code.
    this.streamReset(id, errorCode);
    return null;
  }

  /**
   * Finds (or implicitly opens) the stream a peer frame names. `dir` is the direction the frame acts on
   * from our side: 'recv' for STREAM/RESET_STREAM, 'send' for MAX_STREAM_DATA/STOP_SENDING.
   */
  private streamForPeerFrame(id: number, dir: 'send' | 'recv'): { stream: StreamState | null } | { code: number; message: string; frameType: number } {
    const bidi = isBidi(id);
    const local = isClientInitiated(id) === this.isClient;
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
      if (index >= this.nextLocalIndex[k]!) {
        return { code: TransportErrorCode.STREAM_STATE_ERROR, message: `stream ${id} not opened yet`, frameType: 0 };
      }
      return { stream: null }; // ours, already closed
    }
    if (index < this.peerOpened[k]!) return { stream: null }; // peer's, already closed
    if (index >= this.localMaxStreams[k]!) {
      return { code: TransportErrorCode.STREAM_LIMIT_ERROR, message: `stream ${id} beyond the stream limit`, frameType: 0 };
    }
    // Opening a stream implicitly opens every lower-numbered one of that type (RFC 9000 §3.2).
    let last: StreamState | null = null;
    for (let i = this.peerOpened[k]!; i <= index; i++) {
      const sid = makeStreamId(i, this.isClient ? 'server' : 'client', bidi);
      last = this.createStream(sid, false);
      this.events.push({ type: 'stream_opened', streamId: sid });
    }
    this.peerOpened[k] = index + 1;
    return { stream: last };
  }

  private createStream(id: number, local: boolean): StreamState {
    const bidi = isBidi(id);
    const p = this.peerParams;
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
      recvWindow: this.opts.streamWindow,
      maxRecvWindow: this.opts.maxStreamWindow,
    });
    this.streams.set(id, s);
    return s;
  }

  private sendableStream(id: number): StreamState {
    const s = this.streams.get(id);
    if (!s || !s.send) throw new PetrelError('STREAM_STATE', `stream ${id} cannot send`);
    if (s.sendState !== 'open' || s.send.finished) throw new PetrelError('STREAM_STATE', `stream ${id} is finished or reset`);
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') {
      throw new PetrelError('CONNECTION_CLOSED', 'connection is closed');
    }
    return s;
  }

  private enqueueStream(s: StreamState): void {
    this.scheduler.enqueue(s);
  }

  private wakeBlockedStreams(): void {
    for (const s of this.streams.values()) if (s.send && s.sendState === 'open') this.enqueueStream(s);
  }

  private maybeRetireStream(s: StreamState): void {
    if (!s.closed || !this.streams.has(s.id)) return;
    this.streams.delete(s.id);
    this.controlOwed.delete(s);
    this.events.push({ type: 'stream_closed', streamId: s.id });
    if (!s.local) {
      const k = isBidi(s.id) ? 0 : 1;
      this.peerClosed[k]!++;
      // Grant more streams once half of the granted credit has been used up and closed.
      const initial = k === 0 ? this.opts.maxStreamsBidi : this.opts.maxStreamsUni;
      if (this.localMaxStreams[k]! - this.peerClosed[k]! <= initial / 2) {
        this.localMaxStreams[k] = this.peerClosed[k]! + initial;
        this.maxStreamsPending[k] = true;
      }
    }
  }

  // ───────────────────────────── handshake ─────────────────────────────

  /** Moves CRYPTO output and new keys from the session into the spaces. */
  private pumpSession(): void {
    for (let out = this.session.pollOutput(); out; out = this.session.pollOutput()) {
      const id = levelSpace(out.level);
      this.spaces[id].cryptoSend.write(out.data);
    }
    for (let k = this.session.pollKeys(); k; k = this.session.pollKeys()) {
      const space = this.spaces[levelSpace(k.level)];
      if (space.discarded) continue;
      if (k.read) space.read = k.read;
      if (k.write) space.write = k.write;
      if (k.level === 'handshake') this.recovery.setHasHandshakeKeys(true);
    }
    if (!this.peerParams && this.session.peerTransportParameters) {
      const err = this.applyPeerParams(this.session.peerTransportParameters);
      if (err) {
        this.enterClosing({ errorCode: err.code, reason: err.message, application: false, initiator: 'local' }, this.nowHint);
        return;
      }
    }
    if (!this.handshakeComplete && this.session.complete) {
      this.handshakeComplete = true;
      this.state = 'established';
      this.events.push({ type: 'connected', alpn: this.session.alpn });
      if (!this.isClient) {
        // Server: the handshake is confirmed once complete (RFC 9001 §4.1.2).
        this.handshakeDonePending = true;
        this.onHandshakeConfirmed(this.nowHint);
      }
    }
  }

  private applyPeerParams(bytes: Uint8Array): { code: number; message: string } | null {
    let p: TransportParameters;
    try {
      p = decodeTransportParameters(bytes, this.isClient ? 'server' : 'client');
    } catch (e) {
      if (e instanceof PetrelWireError) return { code: TransportErrorCode.TRANSPORT_PARAMETER_ERROR, message: e.message };
      throw e;
    }
    // Both sides check the peer's initial_source_connection_id against the header it came in (RFC 9000 §7.3).
    if (!p.initialSourceConnectionId || !bytesEqual(p.initialSourceConnectionId, this.peerInitialScid)) {
      return { code: TransportErrorCode.TRANSPORT_PARAMETER_ERROR, message: 'initial_source_connection_id mismatch' };
    }
    if (this.isClient) {
      if (!p.originalDestinationConnectionId || !bytesEqual(p.originalDestinationConnectionId, this.originalDcid)) {
        return { code: TransportErrorCode.TRANSPORT_PARAMETER_ERROR, message: 'original_destination_connection_id mismatch' };
      }
    }
    this.peerParams = p;
    if (this.isClient && p.statelessResetToken) {
      this.peerCids.replaceInitial(this.peerInitialScid, p.statelessResetToken);
      this.onResetTokens?.([p.statelessResetToken], []);
    }
    // Idle timeout: the minimum of the non-zero values.
    const a = this.opts.idleTimeout;
    const b = p.maxIdleTimeout;
    this.idleTimeout = a > 0 && b > 0 ? Math.min(a, b) : Math.max(a, b);
    if (this.idleTimeout > 0) this.recovery.setMaxPtoPeriod(this.idleTimeout / PROBES_PER_IDLE);
    this.recovery.setMaxAckDelay(p.maxAckDelay);
    if (this.opts.pmtud) {
      const family = this.remote.host.includes(':') ? MAX_DATAGRAM_IPV6 : MAX_DATAGRAM_IPV4;
      const max = Math.min(this.opts.maxUdpPayloadSize, p.maxUdpPayloadSize, family);
      if (max > BASE_DATAGRAM_SIZE) this.pmtud = new Pmtud({ max });
    }
    this.connSend.raise(p.initialMaxData);
    this.peerMaxStreams = [p.initialMaxStreamsBidi, p.initialMaxStreamsUni];
    // Streams opened before the parameters arrived get their initial credit now.
    for (const s of this.streams.values()) {
      if (!s.send) continue;
      const limit = !isBidi(s.id) ? p.initialMaxStreamDataUni : s.local ? p.initialMaxStreamDataBidiRemote : p.initialMaxStreamDataBidiLocal;
      s.sendCredit.raise(limit);
    }
    return null;
  }

  private onHandshakeConfirmed(now: number): void {
    if (this.handshakeConfirmed) return;
    this.handshakeConfirmed = true;
    this.recovery.setHandshakeConfirmed();
    this.recovery.setPeerCompletedAddressValidation(true);
    if (!this.spaces[INITIAL].discarded) this.discardSpace(INITIAL, now);
    if (!this.spaces[HANDSHAKE].discarded) this.discardSpace(HANDSHAKE, now);
    this.events.push({ type: 'handshake_confirmed' });
    this.updateAckFrequency();
    this.issueCids();
  }

  /** Issues connection ids up to the peer's limit (ours are routed by the endpoint). */
  private issueCids(): void {
    if (!this.handshakeConfirmed || this.state !== 'established') return;
    const limit = Math.min(this.peerParams?.activeConnectionIdLimit ?? 2, MAX_ACTIVE_CIDS);
    const added: Uint8Array[] = [];
    while (this.localCids.count < limit) {
      const cid = new Uint8Array(CID_LENGTH);
      this.env.randomFill(cid);
      const token = new Uint8Array(16);
      if (this.env.resetToken) token.set(this.env.resetToken(cid));
      else this.env.randomFill(token);
      this.localCids.issue(cid, token);
      added.push(cid);
    }
    if (added.length) this.onCidChange?.(added, []);
  }

  /**
   * The peer's address changed (RFC 9000 §9): move to the new path, validate it with PATH_CHALLENGE,
   * send at most 3× what arrived on it until validated, and reset congestion and RTT state when the
   * host changed (a port-only change is a NAT rebinding on the same path).
   */
  private migrateTo(to: PeerAddress, bytes: number, now: number): void {
    const hostChanged = to.host !== this.remote.host;
    if (!this.pathChallenge || this.previousPath === null) this.previousPath = { remote: this.remote, validated: this.addressValidated };
    this.remote = to;
    this.addressValidated = false;
    this.bytesReceivedUnvalidated = bytes;
    this.bytesSentUnvalidated = 0;
    this.updateAmplificationLimit();
    const challenge = new Uint8Array(8);
    this.env.randomFill(challenge);
    this.pathChallenge = challenge;
    this.pathChallengePending = true;
    this.startPathValidation(now);
    if (hostChanged) {
      this.recovery.onPathChange();
      if (this.pmtud) {
        this.pmtud.reset(now);
        this.applyMtu();
      }
    }
    this.migrations++;
    if (this.env.trace) this.env.trace('connectivity:path_changed', { host: to.host, port: to.port, hostChanged }, now);
    this.events.push({ type: 'path_changed', address: { ...to } });
  }

  private startPathValidation(now: number): void {
    const pto = this.recovery.rtt.pto(this.peerParams?.maxAckDelay ?? 0, true);
    this.pathValidationDeadline = now + Math.max(3 * pto, 6 * (this.opts.initialRtt ?? 333));
    this.pathChallengeInterval = pto;
    this.pathChallengeResendAt = now + pto;
    this.heardOnPreviousPath = false;
  }

  private pathChallengeInterval = 0;
  private pathChallengeResendAt: number | null = null;
  /** A packet arrived from the previous address after we moved: the old path still works. */
  private heardOnPreviousPath = false;

  private onPathResponse(data: Uint8Array, now: number): void {
    if (!this.pathChallenge || !bytesEqual(data, this.pathChallenge)) return;
    this.pathChallenge = null;
    this.pathChallengePending = false;
    this.pathValidationDeadline = null;
    this.pathChallengeResendAt = null;
    this.previousPath = null;
    this.addressValidated = true;
    this.recovery.setAmplificationLimited(false);
    void now;
    this.events.push({ type: 'path_validated', address: { ...this.remote } });
  }

  /**
   * Path validation timed out. Go back to the previous path if it was validated and is still heard from;
   * after a NAT rebinding the old path is dead, so keep validating the new one (the idle timeout bounds it).
   */
  private onPathValidationTimeout(now: number): void {
    const prev = this.previousPath;
    if (!prev || !this.heardOnPreviousPath) {
      this.env.randomFill(this.pathChallenge ?? (this.pathChallenge = new Uint8Array(8)));
      this.pathChallengePending = true;
      this.startPathValidation(now);
      return;
    }
    this.pathValidationDeadline = null;
    this.pathChallengeResendAt = null;
    this.pathChallenge = null;
    this.pathChallengePending = false;
    this.previousPath = null;
    if (prev.validated) {
      this.remote = prev.remote;
      this.addressValidated = true;
      this.recovery.setAmplificationLimited(false);
      this.events.push({ type: 'path_changed', address: { ...prev.remote } });
      return;
    }
    this.enterClosing({ errorCode: TransportErrorCode.NO_VIABLE_PATH, reason: 'path validation failed', application: false, initiator: 'local' }, now);
  }

  /** The endpoint matched a stateless reset token from our peer: the peer lost our state. */
  onStatelessReset(): void {
    if (this.state === 'closed') return;
    if (this.state === 'closing' || this.state === 'draining') {
      this.state = 'closed';
      return;
    }
    this.terminate({ errorCode: TransportErrorCode.NO_ERROR, reason: 'stateless reset', application: false, initiator: 'reset' });
  }

  private discardSpace(id: SpaceId, now: number): void {
    this.recovery.discardSpace(id, now);
    this.spaces[id].discard();
  }

  /** Thins the peer's ACKs on bulk transfers: one ACK per ~1/8 of the window, at least every 2nd packet. */
  private updateAckFrequency(): void {
    if (!this.opts.ackFrequency || this.peerParams?.minAckDelay === undefined || !this.handshakeConfirmed) return;
    const packetsPerWindow = Math.floor(this.recovery.cc.window / this.maxDatagramSize);
    const threshold = Math.max(1, Math.min(10, Math.floor(packetsPerWindow / 8)));
    // The thinned ACKs must still come several times per RTT: ask for at most a quarter of the RTT of
    // delay (the ack-frequency draft's guidance), never below the peer's min_ack_delay.
    const minUs = this.peerParams?.minAckDelay ?? MIN_ACK_DELAY_US;
    const rttUs = this.recovery.rtt.hasSample ? this.recovery.rtt.smoothed * 1000 : this.opts.maxAckDelay * 4000;
    const delayUs = Math.round(Math.max(minUs, Math.min(this.opts.maxAckDelay * 1000, rttUs / 4)));
    const old = this.ackFrequencySentDelay;
    if (threshold !== this.ackFrequencySentThreshold || old === 0 || Math.abs(delayUs - old) > old / 4) {
      this.ackFrequencySentThreshold = threshold;
      this.ackFrequencySentDelay = delayUs;
      this.ackFrequencySeq++;
      this.ackFrequencyPending = true;
    }
  }

  // ───────────────────────────── closing ─────────────────────────────

  private protocolError(code: number, message: string, frameType: number, ret: number): number {
    if (this.env.trace) this.env.trace('transport:connection_error', { code: transportErrorName(code), message }, this.nowHint);
    this.enterClosing({ errorCode: code, reason: message, application: false, initiator: 'local' }, this.nowHint, frameType);
    return ret;
  }

  private closeFrameType = 0;

  private enterClosing(info: CloseInfo, now: number, frameType = 0): void {
    if (this.state === 'closing' || this.state === 'draining' || this.state === 'closed') return;
    this.state = 'closing';
    this.closeInfo = info;
    this.closeFrameType = frameType;
    this.closeFramePending = true;
    this.closeDeadline = now + 3 * this.recovery.rtt.pto(this.peerParams?.maxAckDelay ?? 0, true);
    this.events.push({ type: 'closed', info });
  }

  private enterDraining(info: CloseInfo, now: number): void {
    if (this.state === 'draining' || this.state === 'closed') return;
    const wasClosing = this.state === 'closing';
    this.state = 'draining';
    this.closeFramePending = false;
    this.closeDeadline = now + 3 * this.recovery.rtt.pto(this.peerParams?.maxAckDelay ?? 0, true);
    if (!wasClosing) {
      this.closeInfo = info;
      this.events.push({ type: 'closed', info });
    }
  }

  /** Ends immediately, without a close period (idle timeout, version negotiation failure). */
  private terminate(info: CloseInfo): void {
    if (this.state === 'closed') return;
    const announce = this.state !== 'closing' && this.state !== 'draining';
    this.state = 'closed';
    if (announce) {
      this.closeInfo = info;
      this.events.push({ type: 'closed', info });
    }
  }

  // ───────────────────────────── timers ─────────────────────────────

  /** Earliest time `handleTimeout` must be called, or null. */
  pollTimeout(): number | null {
    if (this.state === 'closed') return null;
    if (this.state === 'closing' || this.state === 'draining') return this.closeDeadline;
    let t = this.idleDeadline();
    const loss = this.recovery.lossDetectionDeadline();
    if (loss !== null && (t === null || loss < t)) t = loss;
    // An ACK that the amplification limit keeps from leaving is not a deadline: more bytes from the
    // peer (which unblock it) arrive as input anyway.
    if (!this.amplificationBlocked()) {
      for (const s of this.spaces) {
        if (s.ackNeeded && s.ackDeadline !== null && (t === null || s.ackDeadline < t)) t = s.ackDeadline;
      }
    }
    const ka = this.keepAliveDeadline();
    if (ka !== null && (t === null || ka < t)) t = ka;
    const pv = this.pathValidationDeadline;
    if (pv !== null && (t === null || pv < t)) t = pv;
    const pr = this.pathChallengeResendAt;
    if (pr !== null && (t === null || pr < t)) t = pr;
    const pc = this.pacedUntil;
    if (pc !== null && (t === null || pc < t)) t = pc;
    const mt = this.pmtud?.nextTimeout() ?? null;
    if (mt !== null && (t === null || mt < t)) t = mt;
    return t;
  }

  private idleDeadline(): number | null {
    if (this.idleTimeout <= 0) return null;
    // At least three PTOs (RFC 9000 §10.1). The un-backed-off PTO: with backoff the deadline would
    // recede forever while a peer that is gone keeps being probed.
    const pto = this.recovery.rtt.pto(this.peerParams?.maxAckDelay ?? 0, true);
    return this.lastActivity + Math.max(this.idleTimeout, 3 * pto);
  }

  private keepAliveDeadline(): number | null {
    if (!this.opts.keepAlive || !this.handshakeComplete || this.spaces[APP].probes > 0 || this.amplificationBlocked()) return null;
    return Math.max(this.lastActivity, this.lastSendTime) + this.opts.keepAlive;
  }


  handleTimeout(now: number): void {
    this.nowHint = now;
    if (this.state === 'closed') return;
    if (this.state === 'closing' || this.state === 'draining') {
      if (this.closeDeadline !== null && now >= this.closeDeadline) this.state = 'closed';
      return;
    }
    const idle = this.idleDeadline();
    if (idle !== null && now >= idle) {
      this.terminate({ errorCode: TransportErrorCode.IDLE_TIMEOUT, reason: 'idle timeout', application: false, initiator: 'idle' });
      return;
    }
    const loss = this.recovery.lossDetectionDeadline();
    if (loss !== null && now >= loss) {
      const res = this.recovery.onLossDetectionTimeout(now);
      if (this.pmtud) this.feedBlackHoleDetector([], res.lost.filter((p) => p.space === APP));
      this.onPacketsLost(res.lost);
      if (res.probe) this.spaces[res.probe.space].probes = res.probe.count;
    }
    const ka = this.keepAliveDeadline();
    // A keep-alive goes out like a PTO probe: one ack-eliciting packet regardless of the congestion
    // window (it is tiny, and liveness must not wait for a window that only ACKs would open).
    if (ka !== null && now >= ka) this.spaces[APP].probes = Math.max(this.spaces[APP].probes, 1);
    if (this.pathChallengeResendAt !== null && now >= this.pathChallengeResendAt) {
      // Resend the challenge with backoff, capped like the PTO.
      this.pathChallengePending = true;
      this.pathChallengeInterval = Math.min(2 * this.pathChallengeInterval, Math.max(this.idleTimeout / PROBES_PER_IDLE, 1000));
      this.pathChallengeResendAt = now + this.pathChallengeInterval;
    }
    if (this.pathValidationDeadline !== null && now >= this.pathValidationDeadline) this.onPathValidationTimeout(now);
    if (this.pacedUntil !== null && now >= this.pacedUntil) this.pacedUntil = null;
    const mt = this.pmtud?.nextTimeout() ?? null;
    if (mt !== null && now >= mt) {
      this.pmtud!.onTimeout(now);
      this.applyMtu();
    }
    // Ack deadlines are checked by wantsAck(now) in pollTransmit.
  }

  // ───────────────────────────── output ─────────────────────────────

  /**
   * Writes the next datagram (with its CRC) into `buf`. Returns its length and destination, or null
   * when there is nothing to send now.
   */
  pollTransmit(now: number, buf: Uint8Array): { length: number; to: PeerAddress } | null {
    this.nowHint = now;
    if (this.state === 'closed' || this.state === 'draining') return null;
    this.pacedUntil = null;
    let limit = Math.min(buf.length, this.maxDatagramSize);
    if (!this.addressValidated) {
      if (this.amplificationBlocked()) {
        // Out of budget on a migrated path: a lone PATH_CHALLENGE may still go, at most once per
        // (backed-off) challenge interval, so a silent peer is not deadlocked (spec/transport.md §Migration).
        if (this.pathChallengePending && this.handshakeConfirmed) return this.sendPathChallengeOnly(now, buf);
        return null;
      }
      limit = Math.min(limit, this.amplificationBudget());
    }
    // A PATH_RESPONSE owed to another address (the peer probing a path) goes alone, padded, to that address.
    if (this.pendingPathResponse && !sameAddress(this.pendingPathResponse.to, this.remote)) {
      return this.sendProbeResponse(now, buf);
    }
    if (this.pmtud && this.handshakeConfirmed && this.state === 'established' && this.addressValidated && !this.wantsAnyAck(now)) {
      const probe = this.sendMtuProbe(now, buf);
      if (probe) return probe;
    }
    const end = limit - CRC_LENGTH;
    let off = 0;
    // Which spaces have something to send decides which packet is last (and carries the padding).
    const want = [this.spaceWantsToSend(INITIAL, now), this.spaceWantsToSend(HANDSHAKE, now), this.spaceWantsToSend(APP, now)];
    const last = want[2] ? APP : want[1] ? HANDSHAKE : want[0] ? INITIAL : -1;
    if (last < 0) return null;
    let containsInitial = false;
    let ackElicitingInitial = false;
    for (let id = 0 as SpaceId; id <= 2; id = (id + 1) as SpaceId) {
      if (!want[id]) continue;
      let padTo = 0;
      if (id === last && (containsInitial || id === INITIAL) && (this.isClient || ackElicitingInitial || id === INITIAL)) {
        padTo = MIN_INITIAL_DATAGRAM - CRC_LENGTH;
      }
      // Path validation datagrams are padded to 1200 bytes, as far as the amplification limit allows (RFC 9000 §8.2.1).
      if (id === APP && (this.pathChallengePending || this.pendingPathResponse) && end >= MIN_INITIAL_DATAGRAM - CRC_LENGTH) {
        padTo = MIN_INITIAL_DATAGRAM - CRC_LENGTH;
      }
      const r = this.buildPacket(id, buf, off, end, now, padTo);
      if (r.end > off) {
        if (id === INITIAL) {
          containsInitial = true;
          ackElicitingInitial = r.ackEliciting;
        }
        off = r.end;
      }
      if (end - off < 64) break;
    }
    if (off === 0) return null;
    const total = appendChecksum(buf, off, this.env.crc32);
    this.counters.bytesSent += total;
    if (!this.addressValidated) {
      this.bytesSentUnvalidated += total;
      this.updateAmplificationLimit();
    }
    return { length: total, to: this.remote };
  }

  private probeOnly = false;

  private sendPathChallengeOnly(now: number, buf: Uint8Array): { length: number; to: PeerAddress } | null {
    this.probeOnly = true;
    try {
      const r = this.buildPacket(APP, buf, 0, Math.min(buf.length, this.maxDatagramSize) - CRC_LENGTH, now, 0);
      if (r.end === 0) return null;
      const total = appendChecksum(buf, r.end, this.env.crc32);
      this.counters.bytesSent += total;
      this.bytesSentUnvalidated += total;
      return { length: total, to: this.remote };
    } finally {
      this.probeOnly = false;
    }
  }

  private sendProbeResponse(now: number, buf: Uint8Array): { length: number; to: PeerAddress } | null {
    const target = this.pendingPathResponse!.to;
    const saved = this.remote;
    if (!this.spaces[APP].write) {
      this.pendingPathResponse = null;
      return null;
    }
    this.remote = target;
    this.probeOnly = true;
    try {
      const end = Math.min(buf.length, this.maxDatagramSize) - CRC_LENGTH;
      const r = this.buildPacket(APP, buf, 0, end, now, MIN_INITIAL_DATAGRAM - CRC_LENGTH);
      if (r.end === 0) return null;
      const total = appendChecksum(buf, r.end, this.env.crc32);
      this.counters.bytesSent += total;
      return { length: total, to: target };
    } finally {
      this.remote = saved;
      this.probeOnly = false;
      this.pendingPathResponse = null;
    }
  }

  /** Bytes a server may still send to an unvalidated address (3× what it received, RFC 9000 §8.1). */
  private amplificationBudget(): number {
    return 3 * this.bytesReceivedUnvalidated - this.bytesSentUnvalidated;
  }

  /**
   * Whether the 3× budget cannot fit what we would send: during the handshake a full 1200-byte datagram
   * (ack-eliciting Initials are padded to it), on a migrated path a small packet (an ACK, a PATH_CHALLENGE).
   */
  private amplificationBlocked(): boolean {
    if (this.addressValidated) return false;
    return this.amplificationBudget() < (this.handshakeConfirmed ? MIN_PATH_BUDGET : BASE_DATAGRAM_SIZE);
  }

  /** While blocked, the PTO is off: probes could not be sent anyway (RFC 9002 §6.2.2.1). */
  private updateAmplificationLimit(): void {
    this.recovery.setAmplificationLimited(this.amplificationBlocked());
  }

  private tagLength(id: SpaceId): number {
    return this.spaces[id].write?.tagLength ?? 16;
  }

  private wantsAnyAck(now: number): boolean {
    return this.wantsAck(this.spaces[0], now) || this.wantsAck(this.spaces[1], now) || this.wantsAck(this.spaces[2], now);
  }

  private wantsAck(space: PacketSpace, now: number): boolean {
    if (!space.ackNeeded) return false;
    if (space.ackImmediate) return true;
    if (space.ackElicitingSinceAck > this.ackThreshold) return true;
    return space.ackDeadline !== null && now >= space.ackDeadline;
  }

  private spaceWantsToSend(id: SpaceId, now: number): boolean {
    const space = this.spaces[id];
    if (space.discarded || !space.write) return false;
    if (this.state === 'closing') return this.closeFramePending && this.closeSpace() === id;
    if (this.wantsAck(space, now)) return true;
    if (space.probes > 0) return true;
    // A nearly closed window waits for ACKs instead of dribbling tiny packets.
    const cwndOpen = this.recovery.sendableBytes() >= MIN_SEND_ROOM;
    // Handshake CRYPTO is not held by the window: 1-RTT packets the peer cannot decrypt yet may fill it
    // and never be acknowledged, and nothing else would then get a lost Finished out (a deadlock).
    if (space.cryptoSend.hasPending(Infinity) && (cwndOpen || id !== APP)) return true;
    if (id !== APP) return false;
    if (!this.handshakeComplete && !(!this.isClient && this.spaces[APP].write)) return false;
    if (this.pendingPathResponse) return true;
    const pending = this.appHasPending();
    // App-limited (RFC 9002 §7.8): the window has room but the application has nothing to send, so
    // the congestion controller must not grow the window on what it cannot have tested.
    this.recovery.setAppLimited(!pending && cwndOpen);
    if (!cwndOpen || !pending) return false;
    const delay = this.pacingDelay(now);
    if (delay > 0) {
      this.pacedUntil = now + delay;
      return false;
    }
    return true;
  }

  /** How long the pacer holds back the next full-size packet (0 = send now). */
  private pacingDelay(now: number): number {
    if (!this.opts.pacing) return 0;
    const rate = this.recovery.cc.pacingRate?.(this.recovery.rtt) ?? Infinity;
    this.pacer.setRate(rate, this.recovery.cc.sendQuantum?.() ?? pacerBurstBytes(this.maxDatagramSize), now);
    return this.pacer.timeUntilSend(now, this.maxDatagramSize);
  }

  /**
   * Black-hole evidence for PMTUD (RFC 8899 §4.3), stamped with send times. A lost packet counts only if
   * no packet of at least its size sent after it has been acknowledged: congestion losses (revealed by
   * ACKs of later packets, which is how packet- and time-threshold losses are found) never count; large
   * packets that stop getting through at all do.
   */
  private feedBlackHoleDetector(acked: readonly SentPacket<SentFrame[]>[], lost: readonly SentPacket<SentFrame[]>[]): void {
    const pmtud = this.pmtud!;
    let newest = this.largestAckedSendTime;
    for (const p of acked) if (!p.isPmtuProbe && p.size + CRC_LENGTH > BASE_DATAGRAM_SIZE && p.timeSent > newest) newest = p.timeSent;
    this.largestAckedSendTime = newest;
    let fellBack = false;
    for (const p of lost) {
      if (p.isPmtuProbe || p.timeSent < newest) continue;
      if (pmtud.onPacketLost(p.size + CRC_LENGTH, p.timeSent)) fellBack = true;
    }
    for (const p of acked) if (!p.isPmtuProbe) pmtud.onPacketAcked(p.size + CRC_LENGTH, p.timeSent);
    if (fellBack) this.applyMtu();
  }

  /** Send time of the newest large (above base size) packet the peer acknowledged. */
  private largestAckedSendTime = -Infinity;

  private nextKeys(): { read: PacketProtector; write: PacketProtector } | null {
    if (!this.cachedNextKeys) this.cachedNextKeys = this.session.nextOneRttKeys?.() ?? null;
    return this.cachedNextKeys;
  }

  /** Asks for a key update at the next opportunity (RFC 9001 §6.1 rules still apply). */
  updateKeys(): void {
    this.keyUpdateRequested = true;
    this.wake();
  }

  /**
   * Starts a key update when asked to or when this phase has protected `keyUpdateInterval` packets
   * (well below the AEAD confidentiality limit), but only once the handshake is confirmed, the peer
   * has acknowledged a packet of the current phase, and it has answered our previous update.
   */
  private maybeInitiateKeyUpdate(): void {
    if (!this.keyUpdateRequested && this.packetsInPhase < this.opts.keyUpdateInterval) return;
    if (!this.handshakeConfirmed || this.pendingReadNext) return;
    if (this.spaces[APP].largestAckedByPeer < this.firstSentPnInPhase) return;
    const next = this.nextKeys();
    if (!next) {
      this.keyUpdateRequested = false;
      return;
    }
    this.cachedNextKeys = null;
    this.spaces[APP].write = next.write;
    this.pendingReadNext = next.read;
    this.sendPhase ^= 1;
    this.firstSentPnInPhase = this.spaces[APP].nextPn;
    this.packetsInPhase = 0;
    this.keyUpdateRequested = false;
    this.keyUpdates++;
    if (this.env.trace) this.env.trace('security:key_updated', { trigger: 'local', generation: this.keyUpdates }, this.nowHint);
  }

  /** A packet in the other phase opened with the next keys: the peer updated (or answered our update). */
  private commitReadKeyUpdate(pn: number, now: number): void {
    const space = this.spaces[APP];
    this.prevRead = space.read;
    this.firstRecvPnInPhase = pn;
    this.recvPhase ^= 1;
    if (this.pendingReadNext) {
      space.read = this.pendingReadNext;
      this.pendingReadNext = null;
    } else {
      // The peer initiated: move our sending side to the same generation.
      const next = this.cachedNextKeys!;
      this.cachedNextKeys = null;
      space.read = next.read;
      space.write = next.write;
      this.sendPhase ^= 1;
      this.firstSentPnInPhase = space.nextPn;
      this.packetsInPhase = 0;
      this.keyUpdates++;
      if (this.env.trace) this.env.trace('security:key_updated', { trigger: 'remote', generation: this.keyUpdates }, now);
    }
  }

  // Observability: delivery rate and time blocked by the peer's flow control.
  private deliveredBytes = 0;
  private rateSample = { time: 0, delivered: 0 };
  private deliveryRate = 0;
  private connBlockedSince: number | null = null;
  private connTimeBlocked = 0;

  /** Delivery rate (bytes acknowledged per ms), measured over windows of about one smoothed RTT. */
  private sampleDeliveryRate(now: number): void {
    const elapsed = now - this.rateSample.time;
    if (elapsed < Math.max(1, this.recovery.rtt.smoothed)) return;
    this.deliveryRate = (this.deliveredBytes - this.rateSample.delivered) / elapsed;
    this.rateSample.time = now;
    this.rateSample.delivered = this.deliveredBytes;
  }

  private endBlocked(now: number): void {
    if (this.connBlockedSince !== null) {
      this.connTimeBlocked += now - this.connBlockedSince;
      this.connBlockedSince = null;
    }
  }

  /** Applies the size PMTUD settled on to packets and the congestion controller. */
  private applyMtu(): void {
    const cur = this.pmtud!.current;
    if (cur !== this.maxDatagramSize) {
      this.maxDatagramSize = cur;
      this.recovery.cc.setMaxDatagramSize(cur);
      if (this.env.trace) this.env.trace('recovery:parameters_set', { maxDatagramSize: cur }, this.nowHint);
    }
  }

  /** A PMTU probe: a PING padded to the probe size, alone in its datagram (RFC 8899 §4.1). */
  private sendMtuProbe(now: number, buf: Uint8Array): { length: number; to: PeerAddress } | null {
    const pmtud = this.pmtud!;
    const size = pmtud.nextProbe(now);
    if (size === null || size > buf.length) return null;
    if (this.recovery.sendableBytes() < size || this.pacingDelay(now) > 0) return null;
    this.mtuProbeSize = size;
    try {
      const pn = this.spaces[APP].nextPn;
      const r = this.buildPacket(APP, buf, 0, size - CRC_LENGTH, now, size - CRC_LENGTH);
      if (r.end === 0) return null;
      pmtud.onProbeSent(pn, size, now);
      const total = appendChecksum(buf, r.end, this.env.crc32);
      this.counters.bytesSent += total;
      return { length: total, to: this.remote };
    } finally {
      this.mtuProbeSize = 0;
    }
  }

  /** The space a CONNECTION_CLOSE goes in: the highest with keys (RFC 9000 §10.2.3). */
  private closeSpace(): SpaceId {
    if (this.spaces[APP].write && this.handshakeComplete) return APP;
    if (this.spaces[HANDSHAKE].write && !this.spaces[HANDSHAKE].discarded) return HANDSHAKE;
    if (!this.spaces[INITIAL].discarded) return INITIAL;
    return APP;
  }

  private appHasPending(): boolean {
    if (this.handshakeDonePending || this.maxDataPending || this.ackFrequencyPending) return true;
    if (this.dataBlockedPending !== null) return true;
    if (this.maxStreamsPending[0] || this.maxStreamsPending[1]) return true;
    if (this.streamsBlockedPending[0] !== null || this.streamsBlockedPending[1] !== null) return true;
    if (this.datagramsQueued > 0) return true;
    if (this.localCids.pending.size > 0 || this.peerCids.retirePending.size > 0 || this.pathChallengePending) return true;
    if (this.scheduler.some((st) => this.streamHasPending(st))) return true;
    // Control frames owed by streams (kept in a set, so this is not a scan of every stream).
    for (const st of this.controlOwed) if (owesControl(st)) return true;
    return false;
  }

  private streamHasPending(s: StreamState): boolean {
    if (!s.send || s.sendState !== 'open') return false;
    return s.send.hasPending(this.streamSendLimit(s));
  }

  /** Absolute stream offset up to which new data may be sent now (stream and connection credit). */
  private streamSendLimit(s: StreamState): number {
    const send = s.send!;
    return Math.min(s.sendCredit.limit, send.sendOffset + this.connSend.available);
  }

  private buildPacket(id: SpaceId, buf: Uint8Array, start: number, end: number, now: number, padTo: number): { end: number; ackEliciting: boolean } {
    const space = this.spaces[id];
    if (id === APP) this.maybeInitiateKeyUpdate();
    const protector = space.write!;
    const pn = space.nextPn;
    // PTO probes stay at the base size: if larger packets are being black-holed, the probe still gets
    // through and the losses of the large ones get declared (which is how PMTUD notices).
    if (space.probes > 0 && this.mtuProbeSize === 0) end = Math.min(end, start + BASE_DATAGRAM_SIZE - CRC_LENGTH);
    const { truncated, length: pnLength } = encodePacketNumber(pn, space.largestAckedByPeer);
    let lengthOffset = -1;
    let pnOffset: number;
    let payloadOffset: number;
    if (id === APP) {
      const h = writeShortHeader(buf, start, { dcid: this.remoteCid, keyPhase: this.sendPhase === 1, spin: false, pnLength, truncatedPn: truncated });
      pnOffset = h.pnOffset;
      payloadOffset = h.payloadOffset;
    } else {
      const h = writeLongHeader(buf, start, {
        type: id === INITIAL ? 'initial' : 'handshake',
        version: PETREL_VERSION,
        dcid: this.remoteCid,
        scid: this.localCid,
        token: id === INITIAL ? EMPTY : undefined,
        pnLength,
        truncatedPn: truncated,
      });
      lengthOffset = h.lengthOffset;
      pnOffset = h.pnOffset;
      payloadOffset = h.payloadOffset;
    }
    const tag = protector.tagLength;
    const payloadEnd = end - tag;
    if (payloadEnd - payloadOffset < 32) return { end: start, ackEliciting: false };
    const w = this.writer.reset(buf, payloadOffset, payloadEnd);
    const frames: SentFrame[] = [];
    let ackEliciting = false;

    if (this.mtuProbeSize > 0) {
      encodeFrame(w, { type: 'ping' });
      frames.push({ k: 'ping' });
    } else if (this.state === 'closing') {
      this.writeClose(w, id, frames);
      this.closeFramePending = false;
    } else {
      // ACK first: it is small and always welcome (piggybacked whenever something is unacknowledged).
      if (space.ackNeeded) this.writeAck(space, w, now, frames);
      const probe = space.probes > 0;
      // Congestion control: ack-eliciting content only within the window. PTO probes may exceed it, and
      // so may path validation (a PATH_CHALLENGE or PATH_RESPONSE is tiny and must not wait for ACKs).
      const pathFrames = id === APP && (this.pendingPathResponse !== null || this.pathChallengePending);
      const budget = probe || pathFrames || id !== APP ? Infinity : this.recovery.sendableBytes();
      const maxEnd = budget === Infinity ? payloadEnd : Math.min(payloadEnd, start + budget - tag);
      if (maxEnd - w.pos > 8) {
        w.end = maxEnd;
        ackEliciting = this.writeAckElicitingFrames(space, w, frames);
        w.end = payloadEnd;
      }
      if (probe && !ackEliciting) {
        // A probe must elicit an ACK: resend the oldest unacknowledged data, else PING.
        if (this.requeueOldest(space)) ackEliciting = this.writeAckElicitingFrames(space, w, frames);
        if (!ackEliciting && w.remaining >= 1) {
          encodeFrame(w, { type: 'ping' });
          frames.push({ k: 'ping' });
          ackEliciting = true;
        }
      }
      if (probe && ackEliciting) space.probes--;
      // Nothing to say: no packet — unless it must pad a datagram that carries an Initial packet (the
      // 1200-byte rule), then a PADDING-only packet still carries the padding.
      if (w.pos === payloadOffset && !(padTo > 0 && (id === INITIAL || start > 0))) return { end: start, ackEliciting: false };
    }
    // Padding: up to the requested datagram size (padTo counts from the datagram start), and enough
    // bytes after the packet number for the header-protection sample.
    let target = w.pos;
    if (padTo > 0) target = Math.max(target, padTo - tag);
    // Every packet carries at least 4 bytes after the start of its packet number (spec/wire.md), and with
    // header protection 4 bytes of plaintext so the 16-byte sample lies inside the ciphertext and tag.
    target = Math.max(target, pnOffset + MIN_PN_AND_PAYLOAD - tag);
    if (protector.headerProtection) target = Math.max(target, pnOffset + 4);
    target = Math.min(target, payloadEnd);
    const padded = target > w.pos;
    if (padded) {
      frames.push({ k: 'padding', length: target - w.pos });
      w.zeros(target - w.pos);
    }
    const plainEnd = w.pos;
    if (lengthOffset >= 0) patchLongHeaderLength(buf, lengthOffset, plainEnd - pnOffset + tag);
    const packetEnd = protector.seal(pn, buf, start, payloadOffset, plainEnd);
    if (protector.headerProtection) {
      protector.headerMask(buf.subarray(pnOffset + 4, pnOffset + 20), this.scratchMask);
      const mask = this.scratchMask;
      buf[start]! ^= mask[0]! & (id === APP ? 0x1f : 0x0f);
      for (let i = 0; i < pnLength; i++) buf[pnOffset + i]! ^= mask[1 + i]!;
    }
    space.nextPn++;
    this.counters.packetsSent++;
    if (id === APP) this.packetsInPhase++;
    const size = packetEnd - start;
    // In flight: ack-eliciting or padded packets (RFC 9002 §2); ACK-only packets are not.
    const isPmtuProbe = this.mtuProbeSize > 0;
    if (isPmtuProbe) ackEliciting = true;
    this.recovery.onPacketSent({ pn, space: id, timeSent: now, size, ackEliciting, inFlight: ackEliciting || padded, frames, isPmtuProbe }, now);
    if (this.opts.pacing && (ackEliciting || padded)) this.pacer.onSend(now, size);
    // Keep-alive counts 1-RTT ack-eliciting packets only: handshake retransmissions neither refresh a
    // NAT mapping for the data path nor tell the server where we are.
    if (ackEliciting && id === APP) this.lastSendTime = now;
    if (ackEliciting) {
      if (!this.ackElicitingSentSinceRecv) {
        // The idle timer restarts when we send the first ack-eliciting packet after receiving.
        this.lastActivity = Math.max(this.lastActivity, now);
        this.ackElicitingSentSinceRecv = true;
      }
    }
    if (id === HANDSHAKE && this.isClient && !this.sentHandshakePacket) {
      this.sentHandshakePacket = true;
      // Client: Initial keys go once it sends its first Handshake packet (RFC 9001 §4.9.1).
      this.discardSpace(INITIAL, now);
    }
    if (this.env.trace) {
      this.env.trace('transport:packet_sent', { space: SPACE_NAME[id], pn, size, frames }, now);
    }
    return { end: packetEnd, ackEliciting };
  }

  private writeClose(w: ByteWriter, id: SpaceId, frames: SentFrame[]): void {
    const info = this.closeInfo!;
    let reason = utf8.encode(info.reason);
    if (reason.length > 256) reason = reason.subarray(0, 256);
    // An application close before the handshake completes is sent as a transport APPLICATION_ERROR (RFC 9000 §10.2.3).
    const asApp = info.application && id === APP;
    encodeFrame(w, {
      type: 'connection_close',
      application: asApp,
      errorCode: info.application && !asApp ? TransportErrorCode.APPLICATION_ERROR : info.errorCode,
      frameType: asApp ? 0 : this.closeFrameType,
      reason: info.application && !asApp ? EMPTY : reason,
    });
    frames.push({ k: 'close', code: info.errorCode, app: info.application, reason: info.reason, frameType: this.closeFrameType });
  }

  private writeAck(space: PacketSpace, w: ByteWriter, now: number, frames: SentFrame[]): void {
    if (space.toAck.isEmpty) {
      space.onAckSent();
      return;
    }
    const ranges = space.toAck.toAckRanges(this.opts.maxAckRanges);
    const exponent = this.localParams.ackDelayExponent;
    const delayUs = space.id === APP ? Math.max(0, Math.round((now - space.largestRecvTime) * 1000)) : 0;
    const ackDelay = Math.floor(delayUs / 2 ** exponent);
    if (ackFrameSize(ackDelay, ranges) > w.remaining) return;
    encodeFrame(w, { type: 'ack', ackDelay, ranges });
    frames.push({ k: 'ack', largest: ranges[0]!.largest, ranges, delay: ackDelay });
    space.onAckSent();
    this.counters.acksSent++;
  }

  /** Writes control frames, CRYPTO, datagrams and stream data. Returns whether anything ack-eliciting was written. */
  private writeAckElicitingFrames(space: PacketSpace, w: ByteWriter, frames: SentFrame[]): boolean {
    let wrote = false;
    // CRYPTO data of this level.
    while (space.cryptoSend.hasPending(Infinity)) {
      const room = w.remaining - cryptoFrameOverhead(space.cryptoSend.sendOffset, w.remaining);
      if (room <= 0) break;
      const chunk = space.cryptoSend.nextChunk(room, Infinity);
      if (!chunk || chunk.data.length === 0) break;
      encodeFrame(w, { type: 'crypto', offset: chunk.offset, data: chunk.data });
      frames.push({ k: 'crypto', offset: chunk.offset, length: chunk.data.length });
      wrote = true;
    }
    if (space.id !== APP) return wrote;
    if (this.handshakeDonePending && w.remaining >= 1) {
      encodeFrame(w, { type: 'handshake_done' });
      frames.push({ k: 'handshake_done' });
      this.handshakeDonePending = false;
      wrote = true;
    }
    if (this.pendingPathResponse && sameAddress(this.pendingPathResponse.to, this.remote) && w.remaining >= 9) {
      encodeFrame(w, { type: 'path_response', data: this.pendingPathResponse.data });
      this.pendingPathResponse = null;
      wrote = true;
    }
    if (this.pathChallengePending && this.pathChallenge && w.remaining >= 9) {
      encodeFrame(w, { type: 'path_challenge', data: this.pathChallenge });
      frames.push({ k: 'path_challenge', data: this.pathChallenge });
      this.pathChallengePending = false;
      wrote = true;
    }
    if (this.probeOnly) return wrote;
    for (const seq of this.localCids.pending) {
      const e = this.localCids.get(seq);
      if (!e || w.remaining < 40) break;
      encodeFrame(w, { type: 'new_connection_id', sequence: seq, retirePriorTo: this.localCids.retirePriorTo, connectionId: e.cid, resetToken: e.token! });
      frames.push({ k: 'new_cid', seq, retirePriorTo: this.localCids.retirePriorTo, cid: e.cid });
      this.localCids.pending.delete(seq);
      wrote = true;
    }
    for (const seq of this.peerCids.retirePending) {
      if (w.remaining < 9) break;
      encodeFrame(w, { type: 'retire_connection_id', sequence: seq });
      frames.push({ k: 'retire_cid', seq });
      this.peerCids.retirePending.delete(seq);
      wrote = true;
    }
    if (this.ackFrequencyPending && w.remaining >= 16) {
      encodeFrame(w, {
        type: 'ack_frequency',
        sequence: this.ackFrequencySeq,
        ackElicitingThreshold: this.ackFrequencySentThreshold,
        requestMaxAckDelay: this.ackFrequencySentDelay,
        reorderingThreshold: 1,
      });
      frames.push({ k: 'ack_frequency', seq: this.ackFrequencySeq, threshold: this.ackFrequencySentThreshold });
      this.ackFrequencyPending = false;
      wrote = true;
    }
    if (this.maxDataPending && w.remaining >= 9) {
      encodeFrame(w, { type: 'max_data', maximum: this.connRecv.limit });
      frames.push({ k: 'max_data', max: this.connRecv.limit });
      this.maxDataPending = false;
      wrote = true;
    }
    for (let k = 0; k < 2; k++) {
      if (this.maxStreamsPending[k] && w.remaining >= 9) {
        encodeFrame(w, { type: 'max_streams', bidi: k === 0, maximum: this.localMaxStreams[k]! });
        frames.push({ k: 'max_streams', bidi: k === 0, max: this.localMaxStreams[k]! });
        this.maxStreamsPending[k] = false;
        wrote = true;
      }
      const blocked = this.streamsBlockedPending[k];
      if (blocked !== null && blocked !== undefined && w.remaining >= 9) {
        encodeFrame(w, { type: 'streams_blocked', bidi: k === 0, limit: blocked });
        frames.push({ k: 'streams_blocked', bidi: k === 0, limit: blocked });
        this.streamsBlockedPending[k] = null;
        wrote = true;
      }
    }
    // Per-stream control frames, from the streams that owe some.
    for (const s of this.controlOwed) {
      if (w.remaining < 24) break;
      if (s.resetPending) {
        encodeFrame(w, { type: 'reset_stream', streamId: s.id, errorCode: s.resetCode!, finalSize: s.resetFinalSize });
        frames.push({ k: 'reset_stream', id: s.id, code: s.resetCode!, finalSize: s.resetFinalSize });
        s.resetPending = false;
        wrote = true;
      }
      if (s.stopPending) {
        encodeFrame(w, { type: 'stop_sending', streamId: s.id, errorCode: s.stopCode! });
        frames.push({ k: 'stop_sending', id: s.id, code: s.stopCode! });
        s.stopPending = false;
        wrote = true;
      }
      if (s.maxDataPending && s.recvState === 'open') {
        encodeFrame(w, { type: 'max_stream_data', streamId: s.id, maximum: s.recvWindow!.limit });
        frames.push({ k: 'max_stream_data', id: s.id, max: s.recvWindow!.limit });
        s.maxDataPending = false;
        wrote = true;
      }
      if (s.blockedPending !== null) {
        encodeFrame(w, { type: 'stream_data_blocked', streamId: s.id, limit: s.blockedPending });
        frames.push({ k: 'stream_data_blocked', id: s.id, limit: s.blockedPending });
        s.blockedPending = null;
        wrote = true;
      }
      if (!owesControl(s)) this.controlOwed.delete(s); // deleting the current entry is safe while iterating
    }
    // Datagrams and stream data by urgency; within one urgency datagrams first (latency-sensitive),
    // then non-incremental streams in id order, then incremental streams round-robin.
    for (let u = 0; u < URGENCY_LEVELS && w.remaining > 16; u++) {
      const dq = this.datagramQueues[u]!;
      while (dq.length > 0) {
        const d = dq[0]!;
        const need = datagramFrameOverhead(d.data.length, true) + d.data.length;
        if (d.data.length > this.maxDatagramPayload()) {
          // Queued before the path MTU shrank: it can never fit now. Drop it rather than block the queue.
          dq.shift();
          this.datagramsQueued--;
          this.counters.datagramsDropped++;
          this.countDrop('datagram_too_large_for_path');
          this.events.push({ type: 'datagram_lost', id: d.id });
          continue;
        }
        if (need > w.remaining) break; // waits for the next packet
        encodeFrame(w, { type: 'datagram', data: d.data });
        frames.push({ k: 'datagram', id: d.id, length: d.data.length });
        dq.shift();
        this.datagramsQueued--;
        this.counters.datagramsSent++;
        wrote = true;
      }
      const seq = this.scheduler.sequentialAt(u);
      while (seq.length > 0 && w.remaining > 16) {
        const st = seq[0]!;
        const r = this.writeStreamChunk(st, w, frames);
        if (r === 'sent') wrote = true;
        if (r !== 'sent' || !this.streamHasPending(st)) {
          // Done for now (or blocked): leave the queue; new data or credit re-queues it.
          if (r === 'full') break;
          seq.shift();
          st.queued = false;
          if (r === 'sent') this.noteIfBlocked(st);
        }
      }
      const rr = this.scheduler.roundRobinAt(u);
      let turns = rr.length;
      while (turns-- > 0 && w.remaining > 16) {
        const st = rr.shift()!;
        st.queued = false;
        const r = this.writeStreamChunk(st, w, frames);
        if (r === 'sent') wrote = true;
        if (r === 'full' || (r === 'sent' && this.streamHasPending(st))) this.enqueueStream(st);
        else if (r === 'sent') this.noteIfBlocked(st);
        if (r === 'full') break;
      }
    }
    if (this.dataBlockedPending !== null && w.remaining >= 9) {
      encodeFrame(w, { type: 'data_blocked', limit: this.dataBlockedPending });
      frames.push({ k: 'data_blocked', limit: this.dataBlockedPending });
      this.dataBlockedPending = null;
      wrote = true;
    }
    return wrote;
  }

  /**
   * Writes one STREAM frame for a stream: 'sent', 'full' (the packet has no room left for it), or
   * 'idle' (nothing to send now: finished, reset, or blocked by flow control — then *_BLOCKED once).
   */
  private writeStreamChunk(s: StreamState, w: ByteWriter, frames: SentFrame[]): 'sent' | 'full' | 'idle' {
    if (!s.send || s.sendState !== 'open') return 'idle';
    const limit = this.streamSendLimit(s);
    const send = s.send;
    if (!send.hasPending(limit)) {
      this.noteIfBlocked(s);
      return 'idle';
    }
    // Thin streams (a few small messages in flight, as a game's updates): bundle the still-unacknowledged
    // tail with the new message, so one lost packet costs no retransmission round trip — the next packet
    // already carries its bytes ("redundant data bundling"). Bulk transfers never qualify.
    // Once per new message: only when the send offset moved since the last bundling.
    if (this.opts.redundantBundling && send.written > send.sendOffset && send.sendOffset > s.bundledUpTo) {
      const unacked = send.sendOffset - send.ackedOffset;
      if (unacked > 0 && unacked <= RDB_MAX_BYTES && this.recovery.bytesInFlight <= RDB_MAX_IN_FLIGHT) {
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
      this.connSend.consume(fresh);
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
    const limit = this.streamSendLimit(s);
    if (send.hasPending(limit)) return;
    if (!(send.written > send.sendOffset)) return;
    if (limit === s.sendCredit.limit) {
      if (s.blockedSince === null) s.blockedSince = this.nowHint;
      const b = s.sendCredit.pollBlocked();
      if (b !== null) {
        s.blockedPending = b;
        this.controlOwed.add(s);
      }
    } else {
      if (this.connBlockedSince === null) this.connBlockedSince = this.nowHint;
      const b = this.connSend.pollBlocked();
      if (b !== null) this.dataBlockedPending = b;
    }
  }

  /** For a PTO probe with no new data: re-queue the frames of the oldest unacknowledged packet. */
  private requeueOldest(space: PacketSpace): boolean {
    for (const p of this.recovery.unacked(space.id)) {
      let any = false;
      for (const f of p.frames) {
        if (f.k === 'crypto' && !space.discarded) {
          space.cryptoSend.onLost(f.offset, f.length, false);
          any = true;
        } else if (f.k === 'stream') {
          const s = this.streams.get(f.id);
          if (s?.send && s.sendState === 'open') {
            s.send.onLost(f.offset, f.length, f.fin);
            this.enqueueStream(s);
            any = true;
          }
        }
      }
      if (any) return true;
    }
    return false;
  }

  private countDrop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }
}

function owesControl(s: StreamState): boolean {
  return s.resetPending || s.stopPending || (s.maxDataPending && s.recvState === 'open') || s.blockedPending !== null;
}

function clampUrgency(u: number): number {
  return Math.max(0, Math.min(URGENCY_LEVELS - 1, Math.floor(u)));
}

function levelSpace(level: string): SpaceId {
  return level === 'initial' ? INITIAL : level === 'handshake' ? HANDSHAKE : APP;
}


function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

export type { PacketProtector };
