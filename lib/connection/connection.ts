/**
 * The Petrel connection: a sans-IO state machine. It is fed authenticated-or-not datagrams with `now`,
 * produces datagrams through `pollTransmit`, tells its next deadline through `pollTimeout`, and emits
 * events through `pollEvent`. It never touches sockets, timers, the clock or global randomness.
 *
 * This file is the façade: shared state, wiring of the modules (docs/architecture.md has the map), and
 * the public API. Layout of one outgoing datagram: [Initial pkt][Handshake pkt][1-RTT pkt][CRC-32].
 */
import { createCongestionController } from '../congestion/index.js';
import { Pacer, pacerBurstBytes } from '../congestion/pacer.js';
import type { PacketProtector } from '../crypto/types.js';
import { Recovery } from '../recovery/recovery.js';
import { BASE_DATAGRAM_SIZE, CRC_LENGTH } from '../wire/datagram.js';
import { datagramFrameOverhead } from '../wire/frames.js';
import type { TransportParameters } from '../wire/transport-params.js';
import { AckManager } from './ack-manager.js';
import { CidController } from './cids.js';
import { CloseManager } from './close.js';
import { APP, HANDSHAKE, INITIAL, isClosingOrGone, type ConnContext, type ConnectionState } from './context.js';
import { Datagrams } from './datagrams.js';
import { resolveOptions } from './defaults.js';
import { HandshakeDriver, encodeLocalParameters, localTransportParameters } from './handshake.js';
import { KeyUpdate } from './key-update.js';
import { MtuDiscovery } from './mtu.js';
import { Outcomes } from './outcomes.js';
import { PacketBuilder } from './packet-builder.js';
import { Paths } from './paths.js';
import { Receiver } from './receive.js';
import { DEFAULT_URGENCY } from './scheduler.js';
import { SentFrameRouter, type SentFrame } from './sent-frame.js';
import { PacketSpace } from './space.js';
import { Counters, connectionStats } from './stats.js';
import { StreamManager, type StreamPriority, type StreamStats } from './streams/manager.js';
import { StreamWriter } from './streams/writer.js';
import { PROBES_PER_IDLE, Timers } from './timers.js';
import { Transmitter } from './transmit.js';
import type { ConnectTokenInfo } from '../crypto/handshake/connect-token.js';
import type { CloseInfo, ConnectionEvent, ConnectionOptions, ConnectionStats, CoreEnv, CryptoConfig, PeerAddress } from './types.js';

export type { SentFrame } from './sent-frame.js';
export type { ConnectionState } from './context.js';

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
  /** Server after a Retry: the Retry's SCID, which the client's Initial keys now derive from; sent back as retry_source_connection_id. */
  retrySourceCid?: Uint8Array;
  /** A trace sink for this connection only (e.g. one qlog file per connection); overrides env.trace. */
  trace?: CoreEnv['trace'];
}

/**
 * The client's Initial-key derivation for a new destination id (after a Retry). Built outside the constructor:
 * a closure there would put `init` in the constructor's context, which every constructor closure (`wake`…)
 * shares, so each server connection would keep its `init` (the endpoint's crypto closures, the first datagram) for life.
 */
function clientInitialKeys(crypto: CryptoConfig): (cid: Uint8Array) => ReturnType<CryptoConfig['initialProtectors']> {
  return (cid) => crypto.initialProtectors(cid, true);
}

export class Connection {
  readonly isClient: boolean;
  readonly localCid: Uint8Array;
  /** The client's first destination id: Initial keys derive from it and the server echoes it. */
  readonly originalDcid: Uint8Array;
  /** Set by the endpoint: called when an application call may have produced output. */
  onWake: (() => void) | null = null;

  private readonly env: CoreEnv;
  private readonly ctx: ConnContext;
  private readonly streams: StreamManager;
  private readonly datagrams: Datagrams;
  private readonly cids: CidController;
  private readonly paths: Paths;
  private readonly mtu: MtuDiscovery;
  private readonly keys: KeyUpdate;
  private readonly handshake: HandshakeDriver;
  private readonly closer: CloseManager;
  private readonly timers: Timers;
  private readonly outcomes: Outcomes;
  private readonly receiver: Receiver;
  private readonly transmitter: Transmitter;

  constructor(init: ConnectionInit) {
    this.isClient = init.isClient;
    this.env = init.trace ? { ...init.env, trace: init.trace } : init.env;
    this.localCid = init.localCid;
    this.originalDcid = init.isClient ? init.remoteCid : (init.originalDcid ?? init.remoteCid);
    const opts = resolveOptions(init.options ?? {});
    const spaces = [new PacketSpace(INITIAL), new PacketSpace(HANDSHAKE), new PacketSpace(APP)] as const;
    const cc = createCongestionController(opts.congestionControl, { maxDatagramSize: BASE_DATAGRAM_SIZE });
    const pacer = new Pacer({ burstBytes: pacerBurstBytes(BASE_DATAGRAM_SIZE), quantum: 1 });
    const recovery = new Recovery<SentFrame[]>(
      {
        initialRtt: opts.initialRtt,
        maxAckDelay: 0,
        isServer: !this.isClient,
        maxPtoPeriod: opts.idleTimeout > 0 ? opts.idleTimeout / PROBES_PER_IDLE : undefined,
        reliableCarrier: opts.reliableCarrier,
      },
      cc,
    );
    const initialKeys = init.crypto.initialProtectors(init.retrySourceCid ?? this.originalDcid, this.isClient);
    spaces[INITIAL].read = initialKeys.read;
    spaces[INITIAL].write = initialKeys.write;

    // Server: the reset token of its handshake id (a keyed hash from the endpoint, if it has a key).
    const localToken = !this.isClient && this.env.resetToken ? this.env.resetToken(init.localCid) : null;
    const ctx: ConnContext = (this.ctx = {
      isClient: this.isClient,
      env: this.env,
      opts,
      spaces,
      recovery,
      events: [],
      counters: new Counters(),
      localParams: localTransportParameters(opts, this.isClient, this.localCid, this.originalDcid, localToken, init.retrySourceCid),
      peerParams: null,
      state: 'handshake',
      remote: init.remote,
      maxDatagramSize: BASE_DATAGRAM_SIZE,
      handshakeComplete: false,
      handshakeConfirmed: false,
      now: 0,
      wake: () => this.onWake?.(),
    });
    const cids = (this.cids = new CidController(ctx, init.localCid, localToken, init.remoteCid));
    const router = new SentFrameRouter();
    const streams = (this.streams = new StreamManager(ctx));
    const streamWriter = new StreamWriter(ctx, streams);
    const datagrams = (this.datagrams = new Datagrams(ctx, () => this.maxDatagramPayload()));
    const ack = new AckManager(ctx);
    const closer = (this.closer = new CloseManager(ctx));
    const mtu = (this.mtu = new MtuDiscovery(ctx));
    const paths = (this.paths = new Paths(ctx, mtu, closer));
    const outcomes = (this.outcomes = new Outcomes(ctx, router, mtu, ack));
    const timers = (this.timers = new Timers(ctx, init.now, { close: closer, paths, mtu, ack, outcomes }));
    const session = init.crypto.createSession({
      isClient: this.isClient,
      transportParameters: encodeLocalParameters(ctx.localParams, this.isClient),
      alpn: opts.alpn ?? [],
      serverName: opts.serverName,
    });
    const handshake = (this.handshake = new HandshakeDriver(ctx, session, this.originalDcid, { cids, streams, mtu, ack, close: closer, timers }));
    if (this.isClient) handshake.initialKeysFor = clientInitialKeys(init.crypto);
    const keys = (this.keys = new KeyUpdate(ctx, session));
    router.register(streams, StreamManager.sentFrames);
    router.register(datagrams, Datagrams.sentFrames);
    router.register(ack, AckManager.sentFrames);
    router.register(cids, CidController.sentFrames);
    router.register(paths, Paths.sentFrames);
    router.register(handshake, HandshakeDriver.sentFrames);
    const builder = new PacketBuilder(ctx, {
      ack,
      close: closer,
      handshake,
      keys,
      paths,
      cids,
      streams,
      streamWriter,
      datagrams,
      mtu,
      timers,
      pacer,
      localCid: this.localCid,
    });
    this.transmitter = new Transmitter(ctx, { builder, ack, close: closer, handshake, paths, mtu, timers, pacer });
    this.receiver = new Receiver(ctx, { ack, cids, close: closer, datagrams, handshake, keys, outcomes, paths, streams, timers });
    session.start();
    handshake.pump();
  }

  // ───────────────────────────── state ─────────────────────────────

  get state(): ConnectionState {
    return this.ctx.state;
  }

  /** The peer's address (the path we send on). */
  get remote(): PeerAddress {
    return this.ctx.remote;
  }

  get maxDatagramSize(): number {
    return this.ctx.maxDatagramSize;
  }

  /** Packets and datagrams dropped, by reason. */
  get drops(): Record<string, number> {
    return this.ctx.counters.drops;
  }

  /** Set by the endpoint: ids we issued or retired (it routes by them). */
  get onCidChange(): CidController['onCidChange'] {
    return this.cids.onCidChange;
  }
  set onCidChange(f: CidController['onCidChange']) {
    this.cids.onCidChange = f;
  }

  /** Set by the endpoint: the peer's reset tokens that became valid or invalid. */
  get onResetTokens(): CidController['onResetTokens'] {
    return this.cids.onResetTokens;
  }
  set onResetTokens(f: CidController['onResetTokens']) {
    this.cids.onResetTokens = f;
  }

  /** Set by a driver: called once when the connection becomes terminated (`isTerminated`), from inside whichever call ended it. */
  get onTerminated(): (() => void) | null {
    return this.closer.onTerminated;
  }
  set onTerminated(f: (() => void) | null) {
    this.closer.onTerminated = f;
  }

  /** The destination id we currently send with. */
  get remoteCid(): Uint8Array {
    return this.cids.peer.current.cid;
  }

  /** Every id the peer may address us by (the endpoint routes them to this connection). */
  localConnectionIds(): Uint8Array[] {
    return [...this.cids.local.all()].map((e) => e.cid);
  }

  /** Reset tokens of the peer's ids: a datagram ending in one of them is a stateless reset. */
  peerResetTokens(): Uint8Array[] {
    return this.cids.peer.tokens();
  }

  pollEvent(): ConnectionEvent | null {
    return this.ctx.events.shift() ?? null;
  }

  get hasEvents(): boolean {
    return this.ctx.events.length > 0;
  }

  get isTerminated(): boolean {
    return this.ctx.state === 'closed';
  }

  get negotiatedAlpn(): string | null {
    return this.handshake.session.alpn;
  }

  /** Server: the server name the client asked for, once its ClientHello was read (null if none). */
  get peerServerName(): string | null {
    return this.handshake.session.peerServerName ?? null;
  }

  /** Server: the client's verified connect token (clientId, userData…) once the handshake is complete, else null. */
  get connectToken(): ConnectTokenInfo | null {
    return this.handshake.session.connectToken ?? null;
  }

  /** Whether the handshake resumed a session with a ticket (spec/handshake.md §Resumption). */
  get resumed(): boolean {
    return this.handshake.session.resumedSession === true;
  }

  /** Client: the fate of its 0-RTT data ('none' when not offered). */
  get earlyData(): 'none' | 'offered' | 'accepted' | 'rejected' {
    return this.handshake.session.earlyData ?? 'none';
  }

  /** Server: whether the peer opened stream `id` with 0-RTT data. */
  isEarlyStream(id: number): boolean {
    return this.handshake.early.isEarlyStream(id);
  }

  /** Client: application data may be sent now in 0-RTT packets (before the handshake completes). */
  get earlyDataWritable(): boolean {
    return this.handshake.early.write !== null;
  }

  /** Both sides announced channels_supported: application streams and datagrams use the channel forms (spec/wire.md §Game channels). */
  get channelsNegotiated(): boolean {
    return this.ctx.opts.channels && !!this.ctx.peerParams?.channelsSupported;
  }

  get peerTransportParameters(): TransportParameters | null {
    return this.ctx.peerParams;
  }

  get closeReason(): CloseInfo | null {
    return this.closer.info;
  }

  stats(): ConnectionStats {
    const ctx = this.ctx;
    const flow = this.streams.flow;
    return connectionStats({
      counters: ctx.counters,
      recovery: ctx.recovery,
      maxDatagramSize: ctx.maxDatagramSize,
      streamsOpen: this.streams.size,
      migrations: this.paths.migrations,
      keyUpdates: this.keys.updates,
      deliveryRate: this.outcomes.delivery.rate,
      timeBlocked: flow.totalTimeBlocked(ctx.now),
      pmtud: this.mtu.pmtud,
      pacing: ctx.opts.pacing,
      rateCap: ctx.opts.maxSendRate > 0 ? ctx.opts.maxSendRate / 1000 : Infinity,
      sendCredit: { limit: flow.send.limit, used: flow.send.used },
      recvWindow: { limit: flow.recv.limit, window: flow.recv.window },
      datagramQueue: this.datagrams.state(ctx.now),
      peerSilence: this.timers.liveness.silentFor(ctx.now),
      unresponsive: this.timers.liveness.isUnresponsive,
    });
  }

  /** Per-stream flow-control and buffer state. */
  streamStats(id: number): StreamStats | null {
    return this.streams.stats(id);
  }

  // ───────────────────────────── application API ─────────────────────────────

  /** Opens a stream; returns its id, or null when the peer's stream limit is reached (STREAMS_BLOCKED is sent). */
  openStream(bidi = true, priority?: StreamPriority): number | null {
    return this.streams.open(bidi, priority);
  }

  /** Appends data to a stream's send buffer (all of it: backpressure is the driver's job via streamBufferedBytes). */
  streamWrite(id: number, data: Uint8Array, fin = false): void {
    this.streams.write(id, data, fin);
  }

  streamFinish(id: number): void {
    this.streams.finish(id);
  }

  /** Bytes written but not yet acknowledged on a stream. */
  streamBufferedBytes(id: number): number {
    return this.streams.bufferedBytes(id);
  }

  /**
   * Bytes worth keeping written but unacknowledged on a stream so it can fill the path: twice the
   * bandwidth-delay product the connection has measured (delivery rate × RTT; twice, so the buffer itself
   * never caps the rate and a buffer-limited stream's target still doubles every round trip), at most
   * maxStreamWindow (the most a peer's stream window grows to by default). 0 before any measurement: the
   * caller's own floor (the API's 1 MiB high-water mark) applies.
   */
  streamSendTarget(): number {
    return Math.min(this.ctx.opts.maxStreamWindow, Math.ceil(2 * this.ctx.recovery.bdpEstimate()));
  }

  /** Reads up to `max` contiguous bytes; null when nothing is readable now. */
  streamRead(id: number, max = Infinity): Uint8Array | null {
    return this.streams.read(id, max);
  }

  /** Whether the peer finished the stream and every byte has been read. */
  streamFinished(id: number): boolean {
    return this.streams.finished(id);
  }

  /** Abruptly ends our sending side (RESET_STREAM). */
  streamReset(id: number, errorCode: number): void {
    this.streams.reset(id, errorCode);
  }

  /** Asks the peer to stop sending (STOP_SENDING); data still arriving is discarded. */
  streamStopSending(id: number, errorCode: number): void {
    this.streams.stopSending(id, errorCode);
  }

  /** Sets a stream's priority (RFC 9218 urgency and incremental flag). */
  setStreamPriority(id: number, priority: StreamPriority): void {
    this.streams.setPriority(id, priority);
  }

  /**
   * Queues an unreliable datagram at an urgency (0 most urgent – 7, default 3). Returns its id, or throws
   * a typed error when it can never fit. A full queue drops the oldest datagram of the least urgent
   * level first (counted). With `maxAge` (ms) it is dropped unsent (counted as `datagram_expired`) once
   * it has waited longer than that; `now` is the caller's clock (default: the latest input's).
   */
  sendDatagram(data: Uint8Array, urgency = DEFAULT_URGENCY, options?: { maxAge?: number; now?: number }): number {
    return this.datagrams.send(data, urgency, options);
  }

  /**
   * Withdraws a queued datagram that has not been sent yet (e.g. superseded by a newer state update).
   * Returns false when it already left or was dropped. Counted as `datagram_cancelled`.
   */
  cancelDatagram(id: number): boolean {
    return this.datagrams.cancel(id);
  }

  /** Whether a datagram is still waiting in the send queue. */
  datagramQueued(id: number): boolean {
    return this.datagrams.isQueued(id);
  }

  /** Largest datagram payload that fits one packet on the current path, honouring the peer's limit. */
  maxDatagramPayload(): number {
    const peerMax = this.ctx.peerParams?.maxDatagramFrameSize ?? 0;
    if (peerMax === 0) return 0;
    const tag = this.ctx.spaces[APP].write?.tagLength ?? 16;
    const space = this.ctx.maxDatagramSize - CRC_LENGTH - (1 + this.remoteCid.length + 4) - tag;
    const fit = space - datagramFrameOverhead(space, false);
    return Math.min(fit, peerMax - datagramFrameOverhead(peerMax, false));
  }

  /** Changes the keep-alive interval (ms; 0 turns it off), e.g. on only while a player is in a match. */
  setKeepAlive(ms: number): void {
    this.ctx.opts.keepAlive = Math.max(0, ms);
    this.ctx.wake();
  }

  /** Asks for a key update at the next opportunity (RFC 9001 §6.1 rules still apply). */
  updateKeys(): void {
    this.keys.request();
    this.ctx.wake();
  }

  /** Closes the connection with an error code and reason. Idempotent. */
  close(errorCode = 0, reason = '', application = true): void {
    if (isClosingOrGone(this.ctx.state)) return;
    this.closer.enterClosing({ errorCode, reason, application, initiator: 'local' }, this.ctx.now);
    this.ctx.wake();
  }

  /** The endpoint matched a stateless reset token from our peer: the peer lost our state. */
  onStatelessReset(): void {
    this.closer.onStatelessReset();
  }

  // ───────────────────────────── driver ─────────────────────────────

  /**
   * Processes one received datagram (CRC already verified and stripped by the endpoint).
   * Bad packets are dropped and counted; protocol violations close the connection.
   */
  handleDatagram(data: Uint8Array, from: PeerAddress, now: number): void {
    this.ctx.now = now;
    if (this.ctx.state === 'closed') return;
    this.receiver.handleDatagram(data, from, now);
    this.receiver.release();
  }

  /** Earliest time `handleTimeout` must be called, or null. */
  pollTimeout(): number | null {
    return this.timers.pollTimeout();
  }

  handleTimeout(now: number): void {
    this.ctx.now = now;
    this.timers.handleTimeout(now);
  }

  /**
   * Writes the next datagram (with its CRC) into `buf`. Returns its length and destination, or null
   * when there is nothing to send now.
   */
  pollTransmit(now: number, buf: Uint8Array): { length: number; to: PeerAddress } | null {
    this.ctx.now = now;
    if (this.ctx.state === 'closed' || this.ctx.state === 'draining') return null;
    return this.transmitter.poll(now, buf);
  }
}

export type { PacketProtector };
