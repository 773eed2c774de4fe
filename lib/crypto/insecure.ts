/**
 * The plaintext handshake used only with the explicit `insecure` option. It has exactly the shape of
 * the secure handshake (spec/handshake.md): ClientHello in Initial; ServerHello in Initial; then
 * EncryptedExtensions (transport parameters) and Finished in Handshake; the client's Finished in
 * Handshake. Keys are PLAINTEXT_PROTECTOR at every level, so the packet format stays uniform.
 *
 * Message framing (spec/handshake.md §Insecure mode): type (u8) | length (varint) | body.
 */
import { TransportErrorCode } from '../errors.js';
import { ByteReader, ByteWriter } from '../wire/buffer.js';
import { PetrelWireError } from '../errors.js';
import { PLAINTEXT_PROTECTOR, type EncryptionLevel, type HandshakeError, type HandshakeSession, type KeyInstall } from './types.js';

export const InsecureMessage = {
  CLIENT_HELLO: 1,
  SERVER_HELLO: 2,
  ENCRYPTED_EXTENSIONS: 8,
  FINISHED: 20,
} as const;

/** Alert-style crypto errors (0x0100 + TLS alert number). */
const ALERT_UNEXPECTED_MESSAGE = 0x0100 + 10;
const ALERT_DECODE_ERROR = 0x0100 + 50;
const ALERT_NO_APPLICATION_PROTOCOL = 0x0100 + 120;

export interface InsecureSessionOptions {
  isClient: boolean;
  /** Our encoded transport parameters. */
  transportParameters: Uint8Array;
  /** Client: protocols offered, in preference order. Server: protocols accepted. Empty = no ALPN. */
  alpn: readonly string[];
  serverName?: string;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

const NO_BYTES = new Uint8Array(0);

/** Accumulates CRYPTO bytes of one level and yields complete messages. */
class MessageReader {
  private pending: Uint8Array = NO_BYTES;
  push(data: Uint8Array): void {
    const merged = new Uint8Array(this.pending.length + data.length);
    merged.set(this.pending);
    merged.set(data, this.pending.length);
    this.pending = merged;
  }
  /** Next complete message, null if incomplete. Throws PetrelWireError on malformed framing. */
  next(): { type: number; body: Uint8Array } | null {
    if (this.pending.length < 2) return null;
    const r = new ByteReader(this.pending);
    const type = r.u8();
    let len: number;
    try {
      len = r.varint();
    } catch {
      return null; // length not complete yet
    }
    if (len > 65535) throw new PetrelWireError(ALERT_DECODE_ERROR, 'handshake message too large');
    if (r.remaining < len) return null;
    const body = r.bytes(len).slice();
    this.pending = r.pos === this.pending.length ? NO_BYTES : this.pending.slice(r.pos);
    return { type, body };
  }
}

export class InsecureHandshake implements HandshakeSession {
  readonly isClient: boolean;
  complete = false;
  peerTransportParameters: Uint8Array | null = null;
  alpn: string | null = null;
  peerServerName: string | null = null;
  private readonly opts: InsecureSessionOptions;
  // Queues, emptied by the connection as it goes: an emptied queue is replaced so that its grown storage goes too.
  private out: Array<{ level: EncryptionLevel; data: Uint8Array }> = [];
  private keys: KeyInstall[] = [];
  /** Dropped once the handshake is complete (anything arriving later is unexpected anyway). */
  private readers: Map<EncryptionLevel, MessageReader> | null = null;
  /** What we expect next: a tiny state machine. */
  private expect: 'client_hello' | 'server_hello' | 'encrypted_extensions' | 'finished' | 'done';

  constructor(opts: InsecureSessionOptions) {
    this.opts = opts;
    this.isClient = opts.isClient;
    this.expect = opts.isClient ? 'server_hello' : 'client_hello';
  }

  start(): void {
    if (!this.isClient) return;
    const w = this.writer();
    w.varint(this.opts.alpn.length);
    for (const p of this.opts.alpn) {
      const b = utf8.encode(p);
      w.varint(b.length);
      w.bytes(b);
    }
    w.varint(this.opts.transportParameters.length);
    w.bytes(this.opts.transportParameters);
    const sn = utf8.encode(this.opts.serverName ?? '');
    w.varint(sn.length);
    w.bytes(sn);
    this.emit('initial', InsecureMessage.CLIENT_HELLO, w);
  }

  handleCrypto(level: EncryptionLevel, data: Uint8Array): HandshakeError | null {
    const readers = (this.readers ??= new Map());
    let reader = readers.get(level);
    if (!reader) {
      reader = new MessageReader();
      readers.set(level, reader);
    }
    reader.push(data);
    try {
      for (let m = reader.next(); m; m = reader.next()) {
        const err = this.onMessage(level, m.type, m.body);
        if (err) return err;
      }
    } catch (e) {
      const code = e instanceof PetrelWireError ? ALERT_DECODE_ERROR : TransportErrorCode.INTERNAL_ERROR;
      return { errorCode: code, reason: 'HANDSHAKE_DECODE_ERROR', message: (e as Error).message };
    }
    return null;
  }

  pollOutput(): { level: EncryptionLevel; data: Uint8Array } | null {
    const m = this.out.shift();
    if (m === undefined) return null;
    if (this.out.length === 0) this.out = [];
    return m;
  }

  pollKeys(): KeyInstall | null {
    const k = this.keys.shift();
    if (k === undefined) return null;
    if (this.keys.length === 0) this.keys = [];
    return k;
  }

  private writer(): ByteWriter {
    return new ByteWriter(new Uint8Array(4096));
  }

  private emit(level: EncryptionLevel, type: number, body: ByteWriter | null): void {
    const len = body ? body.pos : 0;
    const w = new ByteWriter(new Uint8Array(len + 9));
    w.u8(type);
    w.varint(len);
    if (body) w.bytes(body.buf.subarray(0, len));
    this.out.push({ level, data: w.buf.slice(0, w.pos) });
  }

  private unexpected(type: number, level: EncryptionLevel): HandshakeError {
    return {
      errorCode: ALERT_UNEXPECTED_MESSAGE,
      reason: 'UNEXPECTED_HANDSHAKE_MESSAGE',
      message: `unexpected handshake message ${type} at ${level} (expected ${this.expect})`,
    };
  }

  private onMessage(level: EncryptionLevel, type: number, body: Uint8Array): HandshakeError | null {
    const r = new ByteReader(body, 0, body.length, ALERT_DECODE_ERROR);
    switch (this.expect) {
      case 'client_hello': {
        if (type !== InsecureMessage.CLIENT_HELLO || level !== 'initial') return this.unexpected(type, level);
        const offered: string[] = [];
        const n = r.varint();
        if (n > 64) r.fail('too many ALPN entries');
        for (let i = 0; i < n; i++) offered.push(utf8d.decode(r.bytes(r.varint())));
        this.peerTransportParameters = r.bytes(r.varint()).slice();
        const sn = utf8d.decode(r.bytes(r.varint())); // informational in insecure mode (the accept hook sees it)
        this.peerServerName = sn === '' ? null : sn;
        const chosen = this.opts.alpn.length === 0 ? (offered[0] ?? '') : offered.find((p) => this.opts.alpn.includes(p));
        if (chosen === undefined) {
          return { errorCode: ALERT_NO_APPLICATION_PROTOCOL, reason: 'NO_COMMON_ALPN', message: 'no common application protocol' };
        }
        this.alpn = chosen;
        const sh = this.writer();
        const a = utf8.encode(chosen);
        sh.varint(a.length);
        sh.bytes(a);
        this.emit('initial', InsecureMessage.SERVER_HELLO, sh);
        this.keys.push({ level: 'handshake', read: PLAINTEXT_PROTECTOR, write: PLAINTEXT_PROTECTOR });
        const ee = this.writer();
        ee.varint(this.opts.transportParameters.length);
        ee.bytes(this.opts.transportParameters);
        this.emit('handshake', InsecureMessage.ENCRYPTED_EXTENSIONS, ee);
        this.emit('handshake', InsecureMessage.FINISHED, null);
        // The server may send 1-RTT data once its Finished is out (0.5-RTT); it reads 1-RTT after the client's Finished.
        this.keys.push({ level: '1rtt', write: PLAINTEXT_PROTECTOR });
        this.expect = 'finished';
        return null;
      }
      case 'server_hello': {
        if (type !== InsecureMessage.SERVER_HELLO || level !== 'initial') return this.unexpected(type, level);
        const chosen = utf8d.decode(r.bytes(r.varint()));
        if (this.opts.alpn.length > 0 && !this.opts.alpn.includes(chosen)) {
          return { errorCode: ALERT_NO_APPLICATION_PROTOCOL, reason: 'NO_COMMON_ALPN', message: `server chose ${chosen}` };
        }
        this.alpn = chosen;
        this.keys.push({ level: 'handshake', read: PLAINTEXT_PROTECTOR, write: PLAINTEXT_PROTECTOR });
        this.expect = 'encrypted_extensions';
        return null;
      }
      case 'encrypted_extensions': {
        if (type !== InsecureMessage.ENCRYPTED_EXTENSIONS || level !== 'handshake') return this.unexpected(type, level);
        this.peerTransportParameters = r.bytes(r.varint()).slice();
        this.expect = 'finished';
        return null;
      }
      case 'finished': {
        if (type !== InsecureMessage.FINISHED || level !== 'handshake') return this.unexpected(type, level);
        if (this.isClient) {
          this.emit('handshake', InsecureMessage.FINISHED, null);
          this.keys.push({ level: '1rtt', read: PLAINTEXT_PROTECTOR, write: PLAINTEXT_PROTECTOR });
        } else {
          this.keys.push({ level: '1rtt', read: PLAINTEXT_PROTECTOR });
        }
        this.complete = true;
        this.expect = 'done';
        this.readers = null;
        return null;
      }
      default:
        return this.unexpected(type, level);
    }
  }
}

/** The `insecure` crypto configuration: plaintext handshake and plaintext packet protection. */
export const insecureCrypto = {
  createSession(args: { isClient: boolean; transportParameters: Uint8Array; alpn: readonly string[]; serverName?: string }): HandshakeSession {
    return new InsecureHandshake({ ...args });
  },
  initialProtectors(): { read: typeof PLAINTEXT_PROTECTOR; write: typeof PLAINTEXT_PROTECTOR } {
    return { read: PLAINTEXT_PROTECTOR, write: PLAINTEXT_PROTECTOR };
  },
};
