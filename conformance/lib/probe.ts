/**
 * The runner's client: a small, independent Petrel client built from the wire codec and the crypto
 * building blocks, so that it can send what a correct endpoint never would (frames in the wrong space,
 * data past a limit, bad checksums, short Initials) and see every byte the peer answers with.
 *
 * It is deliberately simple: one packet per datagram, no congestion control, no retransmission of its
 * own CRYPTO data beyond resending the first flight. What it observes is logged per case (wire log).
 */
import { createSocket, type Socket } from 'node:dgram';
import { crc32 } from 'node:zlib';
import { ByteWriter } from '../../lib/wire/buffer.js';
import { decodeFrames, encodeFrame } from '../../lib/wire/frames.js';
import type { AckRange, Frame } from '../../lib/wire/frame-types.js';
import {
  CID_LENGTH,
  PETREL_VERSION,
  parsePacketHeader,
  patchLongHeaderLength,
  retryPseudoPacket,
  readPacketNumber,
  writeLongHeader,
  writeShortHeader,
  type LongPacketType,
} from '../../lib/wire/packet.js';
import { decodePacketNumber } from '../../lib/wire/packet-number.js';
import { appendChecksum, verifyChecksum } from '../../lib/wire/datagram.js';
import {
  DEFAULT_TRANSPORT_PARAMETERS,
  decodeTransportParameters,
  encodeTransportParameters,
  type TransportParameters,
} from '../../lib/wire/transport-params.js';
import { protectHeader, unprotectHeader } from '../../lib/crypto/packet-protection.js';
import type { CryptoConfig } from '../../lib/connection/types.js';
import type { EncryptionLevel, HandshakeSession, PacketProtector } from '../../lib/crypto/types.js';
import type { WireLog } from './wire-log.js';

export type SpaceName = 'initial' | 'handshake' | 'app';
const LEVEL_SPACE: Record<EncryptionLevel, SpaceName> = { initial: 'initial', handshake: 'handshake', '0rtt': 'app', '1rtt': 'app' };
const SPACE_LEVEL: Record<SpaceName, EncryptionLevel> = { initial: 'initial', handshake: 'handshake', app: '1rtt' };

interface Space {
  nextPn: number;
  read: PacketProtector | null;
  write: PacketProtector | null;
  largestRecv: number;
  /** Packet numbers received, for our ACK frames. */
  received: Set<number>;
  /** CRYPTO reassembly: bytes delivered in order, and fragments ahead of it. */
  cryptoRead: number;
  cryptoAhead: Map<number, Uint8Array>;
  cryptoSent: number;
}

/** One packet the peer sent us, after removing protection (frames null when it did not open). */
export interface ReceivedPacket {
  space: SpaceName | 'retry' | 'version_negotiation' | 'stateless_reset' | 'undecryptable';
  pn: number;
  frames: Frame[] | null;
  keyPhase?: boolean;
  /** Versions listed by a Version Negotiation packet. */
  versions?: number[];
  /** Retry token and source id. */
  token?: Uint8Array;
  scid?: Uint8Array;
}

export interface ReceivedDatagram {
  time: number;
  bytes: Uint8Array;
  crcOk: boolean;
  packets: ReceivedPacket[];
}

export interface ProbeOptions {
  host: string;
  port: number;
  crypto: CryptoConfig;
  alpn?: readonly string[];
  serverName?: string;
  /** Our transport parameters (merged over sensible client defaults). */
  params?: Partial<TransportParameters>;
  /** Raw transport-parameter bytes, sent instead of encoding `params` (for malformed-parameter cases). */
  rawParams?: (encoded: Uint8Array) => Uint8Array;
  log?: WireLog;
  /** Local port to bind (0 = any). */
  localPort?: number;
  /** Verifies Retry integrity tags; without it Retry packets are recorded but not followed. */
  retryIntegrity?: { verify(pseudoPacket: Uint8Array, tag: Uint8Array): boolean };
  /** When false, the probe never answers on its own (no CRYPTO flights after the first): a silent client. */
  autoRespond?: boolean;
  /** Rewrites the CRYPTO bytes of a level before they are sent (tampering cases). */
  mutateCrypto?: (level: EncryptionLevel, data: Uint8Array) => Uint8Array;
}

export const CLIENT_PARAMS: TransportParameters = {
  ...DEFAULT_TRANSPORT_PARAMETERS,
  maxIdleTimeout: 10_000,
  initialMaxData: 4 * 1024 * 1024,
  initialMaxStreamDataBidiLocal: 1024 * 1024,
  initialMaxStreamDataBidiRemote: 1024 * 1024,
  initialMaxStreamDataUni: 1024 * 1024,
  initialMaxStreamsBidi: 100,
  initialMaxStreamsUni: 100,
  activeConnectionIdLimit: 4,
  maxDatagramFrameSize: 1472,
  // Off: with channels on, the peer reads the first streams as game-channel streams (wire.md §Game channels).
  channelsSupported: false,
};

function randomCid(): Uint8Array {
  const c = new Uint8Array(CID_LENGTH);
  for (let i = 0; i < c.length; i++) c[i] = Math.floor(Math.random() * 256);
  return c;
}

const crc = (d: Uint8Array): number => crc32(d);

export class Probe {
  readonly scid = randomCid();
  /** Destination id: random at first, then the server's source id. */
  dcid = randomCid();
  readonly originalDcid = this.dcid;
  readonly spaces: Record<SpaceName, Space>;
  readonly datagrams: ReceivedDatagram[] = [];
  session!: HandshakeSession;
  peerParams: TransportParameters | null = null;
  /** The peer's CONNECTION_CLOSE, once seen. */
  peerClose: Extract<Frame, { type: 'connection_close' }> | null = null;
  bytesSent = 0;
  bytesReceived = 0;
  keyPhase = false;
  handshakeDone = false;
  token: Uint8Array = new Uint8Array(0);
  private socket!: Socket;
  private waiters: (() => void)[] = [];
  private readonly start = Date.now();
  private readonly buf = new Uint8Array(65536);

  constructor(readonly opts: ProbeOptions) {
    const mk = (): Space => ({
      nextPn: 0,
      read: null,
      write: null,
      largestRecv: -1,
      received: new Set(),
      cryptoRead: 0,
      cryptoAhead: new Map(),
      cryptoSent: 0,
    });
    this.spaces = { initial: mk(), handshake: mk(), app: mk() };
    this.setInitialKeys();
  }

  private setInitialKeys(): void {
    const ini = this.opts.crypto.initialProtectors(this.originalDcidForKeys, true);
    this.spaces.initial.read = ini.read;
    this.spaces.initial.write = ini.write;
  }

  /** Initial keys derive from the dcid of the current first flight (the Retry's source id after a Retry). */
  private originalDcidForKeys = this.dcid;

  async open(): Promise<void> {
    this.socket = createSocket(this.opts.host.includes(':') ? 'udp6' : 'udp4');
    this.socket.on('message', (msg) => this.onDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.length)));
    this.socket.on('error', () => undefined);
    await new Promise<void>((resolve) => this.socket.bind(this.opts.localPort ?? 0, this.opts.host.includes(':') ? '::1' : '127.0.0.1', resolve));
    const params: TransportParameters = { ...CLIENT_PARAMS, initialSourceConnectionId: this.scid, ...this.opts.params };
    const w = new ByteWriter(new Uint8Array(2048));
    encodeTransportParameters(params, w, 'client');
    let tp: Uint8Array = w.buf.slice(0, w.pos);
    if (this.opts.rawParams) tp = this.opts.rawParams(tp);
    this.session = this.opts.crypto.createSession({
      isClient: true,
      transportParameters: tp,
      alpn: this.opts.alpn ?? [],
      serverName: this.opts.serverName,
    });
    this.session.start();
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  elapsed(): number {
    return Date.now() - this.start;
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  /** Rebinds to a new local port (a NAT rebinding as the server sees it). */
  async rebind(): Promise<void> {
    this.close();
    this.socket = createSocket(this.opts.host.includes(':') ? 'udp6' : 'udp4');
    this.socket.on('message', (msg) => this.onDatagram(new Uint8Array(msg.buffer, msg.byteOffset, msg.length)));
    this.socket.on('error', () => undefined);
    await new Promise<void>((resolve) => this.socket.bind(0, this.opts.host.includes(':') ? '::1' : '127.0.0.1', resolve));
  }

  sendRaw(bytes: Uint8Array, note = 'raw'): void {
    this.bytesSent += bytes.length;
    this.opts.log?.sent(this.elapsed(), bytes, note);
    this.socket.send(bytes, this.opts.port, this.opts.host);
  }

  /** Our ACK frame for a space, or null when nothing was received there. */
  ackFrame(space: SpaceName): Frame | null {
    const pns = [...this.spaces[space].received].sort((a, b) => b - a);
    if (pns.length === 0) return null;
    const ranges: AckRange[] = [];
    let hi = pns[0]!;
    let lo = hi;
    for (let i = 1; i < pns.length; i++) {
      const p = pns[i]!;
      if (p === lo - 1) lo = p;
      else {
        ranges.push({ largest: hi, smallest: lo });
        hi = lo = p;
      }
    }
    ranges.push({ largest: hi, smallest: lo });
    return { type: 'ack', ackDelay: 0, ranges } as Frame;
  }

  /**
   * Builds one protected packet of `space` carrying `frames` (an ACK of that space first unless
   * `noAck`), pads the datagram to `padTo` bytes (CRC included), and returns the datagram.
   */
  buildPacket(
    space: SpaceName,
    frames: readonly Frame[],
    o: {
      padTo?: number;
      noAck?: boolean;
      type?: Exclude<LongPacketType, 'retry'>;
      version?: number;
      token?: Uint8Array;
      reservedBits?: number;
      protector?: PacketProtector;
      pn?: number;
      rawPayload?: Uint8Array;
    } = {},
  ): Uint8Array {
    const sp = this.spaces[space];
    const protector = o.protector ?? sp.write;
    if (!protector) throw new Error(`no write keys for ${space}`);
    const pn = o.pn ?? sp.nextPn++;
    const buf = this.buf;
    const all: Frame[] = [];
    const ack = o.noAck ? null : this.ackFrame(space);
    if (ack) all.push(ack);
    all.push(...frames);
    let hdr: { pnOffset: number; payloadOffset: number; lengthOffset?: number };
    if (space === 'app' && o.type === undefined) {
      hdr = writeShortHeader(buf, 0, { dcid: this.dcid, truncatedPn: pn & 0xffff, pnLength: 2, keyPhase: this.keyPhase, spin: false });
    } else {
      const type: Exclude<LongPacketType, 'retry'> = o.type ?? (space === 'initial' ? 'initial' : space === 'handshake' ? 'handshake' : '0rtt');
      hdr = writeLongHeader(buf, 0, {
        type,
        version: o.version ?? PETREL_VERSION,
        dcid: this.dcid,
        scid: this.scid,
        token: type === 'initial' ? (o.token ?? this.token) : undefined,
        truncatedPn: pn & 0xffff,
        pnLength: 2,
      });
    }
    if (o.reservedBits) buf[0] = buf[0]! | (o.reservedBits & (buf[0]! & 0x80 ? 0x0c : 0x18));
    const w = new ByteWriter(buf, hdr.payloadOffset);
    if (o.rawPayload) w.bytes(o.rawPayload);
    else for (const f of all) encodeFrame(w, f);
    let payloadEnd = w.pos;
    // The header-protection sample needs 4 + 16 bytes after the packet number: pad with PADDING (zeros).
    const minEnd = hdr.pnOffset + 4 + 16 - protector.tagLength;
    const padTarget = o.padTo !== undefined ? o.padTo - 4 - protector.tagLength : 0;
    const target = Math.max(minEnd, padTarget);
    if (payloadEnd < target) {
      buf.fill(0, payloadEnd, target);
      payloadEnd = target;
    }
    if (hdr.lengthOffset !== undefined) patchLongHeaderLength(buf, hdr.lengthOffset, payloadEnd + protector.tagLength - hdr.pnOffset);
    const end = protector.seal(pn, buf, 0, hdr.payloadOffset, payloadEnd);
    protectHeader(buf.subarray(0, end), 0, hdr.pnOffset, 2, protector);
    const out = new Uint8Array(end + 4);
    out.set(buf.subarray(0, end));
    appendChecksum(out, end, crc);
    this.opts.log?.note(this.elapsed(), `built ${space} pn=${pn} frames=${all.map((f) => f.type).join(',')}`);
    return out;
  }

  send(space: SpaceName, frames: readonly Frame[], o: Parameters<Probe['buildPacket']>[2] = {}): void {
    const padTo = o.padTo ?? (space === 'initial' ? 1200 : undefined);
    const d = this.buildPacket(space, frames, { ...o, padTo });
    // Until the server answers, our Initials are the first flight: kept to be resent if lost.
    if (space === 'initial' && this.spaces.handshake.read === null) this.firstFlight.push(d);
    this.sendRaw(d, `${space}:${frames.map((f) => f.type).join(',')}`);
  }

  /** Sends every CRYPTO byte the session has produced, in its level's space. */
  flushCrypto(): void {
    for (;;) {
      const out = this.session.pollOutput();
      if (!out) break;
      const space = LEVEL_SPACE[out.level];
      const sp = this.spaces[space];
      if (this.opts.mutateCrypto) out.data = this.opts.mutateCrypto(out.level, out.data);
      if (out.level === 'initial') this.initialCrypto.push(out.data);
      // Split into packets of at most 1000 bytes of CRYPTO data.
      for (let off = 0; off < out.data.length; off += 1000) {
        const chunk = out.data.subarray(off, Math.min(out.data.length, off + 1000));
        this.send(space, [{ type: 'crypto', offset: sp.cryptoSent, data: chunk } as Frame]);
        sp.cryptoSent += chunk.length;
      }
    }
    this.installKeys();
  }

  private installKeys(): void {
    for (;;) {
      const k = this.session.pollKeys();
      if (!k) break;
      const sp = this.spaces[LEVEL_SPACE[k.level]];
      if (k.read) sp.read = k.read;
      if (k.write) sp.write = k.write;
    }
  }

  /** Runs the handshake to completion (our Finished sent). Resolves false on timeout or a close. */
  async handshake(timeoutMs = 3000): Promise<boolean> {
    this.handshaking = true;
    this.flushCrypto();
    const deadline = Date.now() + timeoutMs;
    let resend = Date.now() + 400;
    while (Date.now() < deadline) {
      if (this.session.complete && this.spaces.app.write) {
        if (this.session.peerTransportParameters && !this.peerParams) {
          this.peerParams = decodeTransportParameters(this.session.peerTransportParameters, 'server');
        }
        // Acknowledge the server's Handshake flight so it can discard its handshake state.
        this.send('handshake', []);
        return true;
      }
      if (this.peerClose) return false;
      if (Date.now() >= resend && this.spaces.handshake.read === null) {
        // Lost first flight: resend the ClientHello from offset 0.
        resend = Date.now() + 400;
        this.resendFirstFlight();
      }
      await this.waitAny(Math.min(100, deadline - Date.now()));
    }
    return false;
  }

  private firstFlight: Uint8Array[] = [];
  /** CRYPTO bytes sent at the Initial level, to send again after a Retry. */
  private initialCrypto: Uint8Array[] = [];
  /** The Retry we followed: its SCID and whether its integrity tag verified. */
  retry: { scid: Uint8Array; tagOk: boolean } | null = null;
  private handshaking = false;
  private resendFirstFlight(): void {
    for (const d of this.firstFlight) this.sendRaw(d, 'initial:resend');
  }

  /** Waits until something arrives or `ms` passes. */
  waitAny(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, Math.max(0, ms));
      const self = this;
      function done(): void {
        clearTimeout(t);
        const i = self.waiters.indexOf(done);
        if (i >= 0) self.waiters.splice(i, 1);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  /** Waits until `pred` holds (checked after each datagram) or `ms` passes; returns whether it held. */
  async waitFor(pred: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.waitAny(left);
    }
    return true;
  }

  /** Every frame received so far (any space), newest last. */
  frames(): Frame[] {
    const out: Frame[] = [];
    for (const d of this.datagrams) for (const p of d.packets) if (p.frames) out.push(...p.frames);
    return out;
  }

  /** Waits for the peer's CONNECTION_CLOSE; returns it or null. */
  async waitClose(ms = 2000): Promise<Extract<Frame, { type: 'connection_close' }> | null> {
    await this.waitFor(() => this.peerClose !== null, ms);
    return this.peerClose;
  }

  /** Sends a 1-RTT packet and remembers the datagram count, to look only at what comes after. */
  mark(): number {
    return this.datagrams.length;
  }

  since(mark: number): ReceivedDatagram[] {
    return this.datagrams.slice(mark);
  }

  private onDatagram(data: Uint8Array): void {
    const bytes = data.slice();
    this.bytesReceived += bytes.length;
    const crcOk = bytes.length >= 5 && verifyChecksum(bytes, bytes.length, crc);
    const d: ReceivedDatagram = { time: this.elapsed(), bytes, crcOk, packets: [] };
    this.datagrams.push(d);
    if (crcOk) this.parse(d);
    this.opts.log?.received(
      d.time,
      bytes,
      d.packets.map((p) => `${p.space}${p.frames ? ':' + p.frames.map((f) => f.type).join(',') : ''}`).join(' | '),
    );
    // Answer the handshake only once handshake() was asked for (and never for a silent client).
    if (this.session && this.handshaking && this.opts.autoRespond !== false) this.flushCrypto();
    for (const w of this.waiters.slice()) w();
  }

  private parse(d: ReceivedDatagram): void {
    const buf = d.bytes;
    const end = buf.length - 4;
    let off = 0;
    while (off < end) {
      let h;
      try {
        h = parsePacketHeader(buf, off, end, this.scid.length);
      } catch {
        d.packets.push({ space: 'undecryptable', pn: -1, frames: null });
        return;
      }
      if (h.form === 'version_negotiation') {
        d.packets.push({ space: 'version_negotiation', pn: -1, frames: null, versions: [...h.versions] });
        return;
      }
      if (h.form === 'retry') {
        d.packets.push({ space: 'retry', pn: -1, frames: null, token: h.token.slice(), scid: h.scid.slice() });
        this.onRetry(buf.subarray(off, end), h.token, h.scid);
        return;
      }
      if (h.form === 'unsupported_version') return;
      const space: SpaceName = h.form === 'short' ? 'app' : h.type === 'initial' ? 'initial' : h.type === 'handshake' ? 'handshake' : 'app';
      const sp = this.spaces[space];
      const protector = sp.read;
      const packetEnd = h.end;
      if (!protector) {
        d.packets.push({ space: 'undecryptable', pn: -1, frames: null });
        off = packetEnd;
        continue;
      }
      const work = buf.slice(0, packetEnd);
      const pnLen = unprotectHeader(work, off, h.pnOffset, protector, packetEnd);
      if (pnLen < 0) {
        d.packets.push({ space: 'undecryptable', pn: -1, frames: null });
        off = packetEnd;
        continue;
      }
      const pn = decodePacketNumber(sp.largestRecv, readPacketNumber(work, h.pnOffset, pnLen), pnLen * 8);
      const keyPhase = h.form === 'short' ? (work[off]! & 0x04) !== 0 : undefined;
      let prot = protector;
      if (h.form === 'short' && this.phaseRead) prot = this.phaseRead[keyPhase ? 1 : 0] ?? protector;
      const plainEnd = prot.open(pn, work, off, h.pnOffset + pnLen, packetEnd);
      if (plainEnd < 0) {
        // Short header: maybe a stateless reset (its last 16 bytes are the token).
        d.packets.push({ space: h.form === 'short' ? 'stateless_reset' : 'undecryptable', pn, frames: null });
        off = packetEnd;
        continue;
      }
      let frames: Frame[] | null;
      try {
        frames = decodeFrames(work.subarray(h.pnOffset + pnLen, plainEnd));
      } catch {
        frames = null;
      }
      if (h.form === 'long' && space !== 'app' && !this.dcidAdopted) {
        this.dcid = h.scid.slice();
        this.dcidAdopted = true;
      }
      sp.largestRecv = Math.max(sp.largestRecv, pn);
      sp.received.add(pn);
      d.packets.push({ space, pn, frames, keyPhase });
      for (const f of frames ?? []) this.onFrame(space, f);
      off = packetEnd;
    }
  }

  private dcidAdopted = false;

  /**
   * Follows a Retry (spec/transport.md §Address validation): verify its tag, adopt its SCID as DCID, derive
   * Initial keys from it, and send the Initial CRYPTO data again with the token. Only the first Retry.
   */
  private onRetry(packet: Uint8Array, token: Uint8Array, scid: Uint8Array): void {
    if (this.retry || this.spaces.handshake.read || !this.opts.retryIntegrity) return;
    const tagAt = packet.length - 16;
    const tagOk = this.opts.retryIntegrity.verify(retryPseudoPacket(this.originalDcid, packet.subarray(0, tagAt)), packet.subarray(tagAt));
    this.retry = { scid: scid.slice(), tagOk };
    this.opts.log?.note(this.elapsed(), `Retry: tag ${tagOk ? 'verifies' : 'does NOT verify'}, token ${token.length} bytes`);
    if (!tagOk) return;
    this.dcid = scid.slice();
    this.token = token.slice();
    this.originalDcidForKeys = this.dcid;
    this.setInitialKeys();
    this.firstFlight = [];
    const sp = this.spaces.initial;
    let off = 0;
    for (const data of this.initialCrypto) {
      this.send('initial', [{ type: 'crypto', offset: off, data } as Frame]);
      off += data.length;
    }
    sp.cryptoSent = off;
  }
  /** 1-RTT read keys by key phase, once a key update started (see keyUpdate()). */
  private phaseRead: [PacketProtector | null, PacketProtector | null] | null = null;

  /**
   * Starts a key update (RFC 9001 §6): the next generation's write key and the flipped phase bit for
   * our packets; the peer's packets in the new phase open with the next read key. False when the
   * session cannot update (insecure mode).
   */
  keyUpdate(): boolean {
    const next = this.session.nextOneRttKeys?.() ?? null;
    if (!next) return false;
    const old = this.spaces.app.read;
    const newPhase = !this.keyPhase;
    this.phaseRead = newPhase ? [old, next.read] : [next.read, old];
    this.spaces.app.write = next.write;
    this.keyPhase = newPhase;
    return true;
  }

  private onFrame(space: SpaceName, f: Frame): void {
    if (f.type === 'connection_close') this.peerClose = f;
    if (f.type === 'handshake_done') this.handshakeDone = true;
    if (f.type === 'crypto') {
      const sp = this.spaces[space];
      if (f.offset + f.data.length <= sp.cryptoRead) return;
      sp.cryptoAhead.set(f.offset, f.data.slice());
      // Deliver in order.
      for (;;) {
        let progressed = false;
        for (const [o, data] of sp.cryptoAhead) {
          if (o <= sp.cryptoRead && o + data.length > sp.cryptoRead) {
            const fresh = data.subarray(sp.cryptoRead - o);
            sp.cryptoAhead.delete(o);
            sp.cryptoRead += fresh.length;
            const err = this.session.handleCrypto(SPACE_LEVEL[space] === '1rtt' ? '1rtt' : SPACE_LEVEL[space], fresh);
            if (err) this.opts.log?.note(this.elapsed(), `handshake error ${err.reason}: ${err.message}`);
            this.installKeys();
            progressed = true;
            break;
          } else if (o + data.length <= sp.cryptoRead) {
            sp.cryptoAhead.delete(o);
          }
        }
        if (!progressed) break;
      }
    }
  }
}
