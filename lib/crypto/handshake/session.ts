/**
 * Petrel's secure handshake: a TLS-1.3-shaped exchange (RFC 8446 as carried by RFC 9001) with Petrel's
 * own messages, driven by the connection through the HandshakeSession contract. Flow, keys and checks:
 * spec/handshake.md §Handshake flow. The message flow and key order are exactly the insecure session's:
 *
 *   client                                     server
 *   ClientHello             (initial)   -->
 *                                       <--   ServerHello                      (initial)
 *                                             EncryptedExtensions, Certificate,
 *                                             CertificateVerify, Finished      (handshake)
 *   Finished                (handshake) -->
 *
 * Any failure returns a HandshakeError, empties both output queues and poisons the session: no 1-RTT
 * key is handed out after it, and every later call returns the same error.
 */
import { PetrelError, PetrelWireError } from '../../errors.js';
import {
  applicationTrafficSecrets,
  earlySecret,
  finishedKey,
  finishedMac,
  handshakeSecret,
  handshakeTrafficSecrets,
  masterSecret,
  nextTrafficSecret,
  PETREL_PROFILE,
  resumptionMasterSecret,
  verifyFinished,
  type TrafficSecrets,
} from '../key-schedule.js';
import { protectorsFromSecret, type AeadPacketProtector } from '../packet-protection.js';
import { CIPHER_SUITES, type CipherSuite, type CryptoProvider, type KeyPair } from '../provider.js';
import type { EncryptionLevel, HandshakeError, HandshakeSession, KeyInstall, PacketProtector } from '../types.js';
import { CONNECT_TOKEN_MAX_SIZE, type ConnectTokenInfo, type ConnectTokenPolicy } from './connect-token.js';
import { fail, HandshakeFailure, handshakeErrorCode } from './errors.js';
import {
  decodeCertificate as decodeCertificateBytes,
  SignatureContext,
  signWithContext,
  verifyServerIdentity,
  verifyWithContext,
} from './identity.js';
import { Transcript } from './transcript.js';
import { bindHello, clientOffer, earlyTrafficSecret, newSessionTickets, serverResumption, ticketFromMessage } from './resumption.js';
import { MAX_TICKETS_PER_CONNECTION, type SessionTicket, type TicketPolicy } from './tickets.js';
import {
  decodeCertificate,
  decodeCertificateVerify,
  decodeNewSessionTicket,
  RESUMPTION_FLAGS,
  decodeClientHello,
  decodeEncryptedExtensions,
  decodeFinished,
  decodeServerHello,
  encodeCertificate,
  encodeCertificateVerify,
  encodeClientHello,
  encodeEncryptedExtensions,
  encodeFinished,
  encodeServerHello,
  frameMessage,
  HandshakeType,
  LIMITS,
  MessageBuffer,
  RANDOM_LENGTH,
  SUITE_CODES,
  suiteFromCode,
  type RawMessage,
} from './messages.js';

const PREFIX = PETREL_PROFILE.prefix;

/** One secret as the NSS key log format names it (SSLKEYLOGFILE), for debugging tools. */
export interface KeyLogEntry {
  label:
    'CLIENT_HANDSHAKE_TRAFFIC_SECRET' | 'SERVER_HANDSHAKE_TRAFFIC_SECRET' | `CLIENT_TRAFFIC_SECRET_${number}` | `SERVER_TRAFFIC_SECRET_${number}`;
  clientRandom: Uint8Array;
  secret: Uint8Array;
}

interface CommonOptions {
  provider: CryptoProvider;
  /** Client: protocols offered, in preference order. Server: protocols accepted. Empty = no ALPN. */
  alpn: readonly string[];
  /** Our encoded transport parameters (opaque here). */
  transportParameters: Uint8Array;
  /** Client: suites offered, in order. Server: suites accepted, in preference order. Default CIPHER_SUITES. */
  suites?: readonly CipherSuite[];
  /** Receives every traffic secret as it is derived. Debugging only: whoever holds these reads the traffic. */
  keyLog?: (entry: KeyLogEntry) => void;
}

export interface ClientSessionOptions extends CommonOptions {
  /** The name the server's certificate must carry (and sent to the server). */
  serverName: string;
  /** A pinned Ed25519 server key: accepted without a certificate. */
  serverKey?: Uint8Array;
  /** Ed25519 CA keys whose certificate chains are accepted. */
  trustedCAs?: readonly Uint8Array[];
  /** Current time in ms since the Unix epoch, for certificate validity. */
  now: () => number;
  /** A backend-minted connect token (mintConnectToken), sent encrypted just before the client Finished. */
  connectToken?: Uint8Array;
  /** A ticket from an earlier connection to offer (ignored when it cannot serve this one: name, key, ALPN, suite, age). */
  ticket?: SessionTicket;
  /** Send 0-RTT data under `ticket` (installs 0-RTT write keys right after the ClientHello). */
  earlyData?: boolean;
  /** Receives each ticket the server issues after the handshake. */
  onTicket?: (ticket: SessionTicket) => void;
}

/** What the client knows about its 0-RTT data: not offered, offered (no answer yet), accepted or rejected. */
export type EarlyDataState = 'none' | 'offered' | 'accepted' | 'rejected';

/** What the server's accept stage sees once a connect token is verified (spec §Connect tokens). */
export interface AdmitInfo {
  /** The client's address, when the connection's driver gave it. */
  address?: { host: string; port: number };
  alpn: string;
  serverName: string | null;
  connectToken: ConnectTokenInfo;
}

export interface ServerSessionOptions extends CommonOptions {
  /** The server's Ed25519 identity key pair. */
  identity: KeyPair;
  /** Encoded certificates for identity.publicKey, leaf first (see issueCertificate). Empty/absent for pinning. */
  certificateChain?: readonly Uint8Array[];
  /** Require a connect token from every client, checked by this (server-wide) policy. */
  connectTokenPolicy?: ConnectTokenPolicy;
  /** With connectTokenPolicy: decides on the client once its token is verified; a reason refuses it (REFUSED). */
  admit?: (info: AdmitInfo) => string | null;
  /** Issue session tickets and take resumptions (and 0-RTT when its maxEarlyData > 0). One per server. */
  tickets?: TicketPolicy;
}

function invalid(message: string): never {
  throw new PetrelError('INVALID_CRYPTO_OPTIONS', message);
}

function checkCommon(o: CommonOptions): CipherSuite[] {
  const suites = [...(o.suites ?? o.provider.preferredSuites ?? CIPHER_SUITES)];
  if (suites.length === 0) invalid('no cipher suite enabled');
  for (const s of suites) if (!CIPHER_SUITES.includes(s)) invalid(`unknown cipher suite ${String(s)}`);
  if (o.alpn.length > LIMITS.alpnEntries) invalid(`more than ${LIMITS.alpnEntries} ALPN protocols`);
  const utf8 = new TextEncoder();
  for (const p of o.alpn) {
    const n = utf8.encode(p).length;
    if (n === 0 || n > LIMITS.alpnLength) invalid(`ALPN protocol ${JSON.stringify(p)} must be 1..${LIMITS.alpnLength} bytes`);
  }
  if (o.transportParameters.length > LIMITS.transportParameters) invalid('transport parameters too long');
  return suites;
}

function sameCodes(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

interface OneRttState {
  suite: CipherSuite;
  generation: number;
  read: Uint8Array;
  write: Uint8Array;
  readProtector: AeadPacketProtector;
  writeProtector: AeadPacketProtector;
}

abstract class SecureHandshake implements HandshakeSession {
  abstract readonly isClient: boolean;
  protected done = false;
  protected peerParams: Uint8Array | null = null;
  protected protocol: string | null = null;

  protected readonly provider: CryptoProvider;
  protected readonly transcript: Transcript;
  protected suite: CipherSuite | null = null;
  protected clientRandom: Uint8Array = new Uint8Array(0);
  protected handshakeSecrets: TrafficSecrets | null = null;
  protected master: Uint8Array | null = null;
  protected oneRtt: OneRttState | null = null;
  private failure: HandshakeError | null = null;
  // Queues, emptied by the connection as it goes: an emptied queue is replaced so that its grown storage goes too.
  private out: Array<{ level: EncryptionLevel; data: Uint8Array }> = [];
  private keys: KeyInstall[] = [];
  private readonly inbox = new MessageBuffer();
  private readonly postHandshake = new MessageBuffer();
  private readonly keyLog: ((entry: KeyLogEntry) => void) | undefined;

  constructor(opts: CommonOptions) {
    this.provider = opts.provider;
    this.transcript = new Transcript(opts.provider);
    this.keyLog = opts.keyLog;
  }

  get complete(): boolean {
    return this.done;
  }

  get peerTransportParameters(): Uint8Array | null {
    return this.peerParams;
  }

  get alpn(): string | null {
    return this.protocol;
  }

  /** The negotiated suite, once known. */
  get cipherSuite(): CipherSuite | null {
    return this.suite;
  }

  /** The message type and level expected next, or null when no message may arrive. */
  protected abstract expected(): { type: number; level: EncryptionLevel; alt?: number } | null;
  protected abstract onMessage(m: RawMessage): void;
  /** A message at the 1-RTT level after the handshake (client: NewSessionTicket). */
  protected onPostHandshake(m: RawMessage): void {
    fail('UNEXPECTED_MESSAGE', `handshake message type ${m.type} after the handshake`);
  }

  abstract start(): void;

  handleCrypto(level: EncryptionLevel, data: Uint8Array): HandshakeError | null {
    if (this.failure) return this.failure;
    if (data.length === 0) return null;
    try {
      if (this.done && level === '1rtt' && this.isClient) {
        this.postHandshake.push(data);
        for (let m = this.postHandshake.next(); m; m = this.postHandshake.next()) this.onPostHandshake(m);
        return null;
      }
      const want = this.expected();
      // Every byte must arrive at the level of the message expected next: handshake messages never span
      // a key change, and nothing may follow the last message (RFC 8446 §5.1).
      if (want === null || level !== want.level) {
        fail('UNEXPECTED_MESSAGE', `handshake data at ${level}${want ? `, expected ${want.level}` : ' after the handshake'}`);
      }
      this.inbox.push(data);
      for (let m = this.inbox.next(); m; m = this.inbox.next()) {
        const now = this.expected();
        if (now === null || (m.type !== now.type && m.type !== now.alt)) {
          fail('UNEXPECTED_MESSAGE', `handshake message type ${m.type} where ${now?.type ?? 'none'} was expected`);
        }
        this.onMessage(m);
        const after = this.expected();
        if (this.inbox.pending > 0 && (after === null || after.level !== now.level)) {
          fail('UNEXPECTED_MESSAGE', `${this.inbox.pending} byte(s) at ${level} after its last message`);
        }
      }
      return null;
    } catch (e) {
      return this.abort(e);
    }
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

  /**
   * Advances both 1-RTT directions by one generation (RFC 9001 §6: "ku" label, header protection kept)
   * and returns the new protectors. Each call is one more generation. Null before completion or after failure.
   */
  nextOneRttKeys(): { read: PacketProtector; write: PacketProtector } | null {
    const s = this.oneRtt;
    if (!this.complete || this.failure || !s) return null;
    const p = this.provider;
    const read = nextTrafficSecret(p, s.read, PETREL_PROFILE);
    const write = nextTrafficSecret(p, s.write, PETREL_PROFILE);
    s.read.fill(0);
    s.write.fill(0);
    s.read = read;
    s.write = write;
    s.generation++;
    const [client, server] = this.isClient ? [write, read] : [read, write];
    this.log(`CLIENT_TRAFFIC_SECRET_${s.generation}`, client);
    this.log(`SERVER_TRAFFIC_SECRET_${s.generation}`, server);
    return {
      read: protectorsFromSecret(p, s.suite, read, PETREL_PROFILE, s.readProtector.hp),
      write: protectorsFromSecret(p, s.suite, write, PETREL_PROFILE, s.writeProtector.hp),
    };
  }

  protected send(level: EncryptionLevel, message: Uint8Array): void {
    this.transcript.add(message);
    this.out.push({ level, data: message });
  }

  protected install(k: KeyInstall): void {
    this.keys.push(k);
  }

  protected log(label: KeyLogEntry['label'], secret: Uint8Array): void {
    this.keyLog?.({ label, clientRandom: this.clientRandom.slice(), secret: secret.slice() });
  }

  /** X25519 with the peer's share; a share giving the all-zero secret is the peer's fault. */
  protected sharedSecret(privateKey: Uint8Array, peerShare: Uint8Array): Uint8Array {
    try {
      return this.provider.x25519(privateKey, peerShare);
    } catch {
      return fail('ILLEGAL_PARAMETER', 'unusable X25519 key share');
    } finally {
      privateKey.fill(0); // ephemeral: forward secrecy rests on forgetting it
    }
  }

  /** Handshake secrets over H(ClientHello..ServerHello); installs the handshake keys. */
  protected deriveHandshakeKeys(shared: Uint8Array, psk?: Uint8Array): void {
    const p = this.provider;
    const suite = this.suite!;
    // psk_dhe_ke: the PSK enters at the Early Secret, the fresh X25519 secret at the Handshake Secret.
    const hs = handshakeSecret(p, earlySecret(p, psk), shared, PREFIX);
    shared.fill(0);
    const secrets = handshakeTrafficSecrets(p, hs, this.transcript.hash(), PREFIX);
    this.handshakeSecrets = secrets;
    this.master = masterSecret(p, hs, PREFIX);
    hs.fill(0);
    this.log('CLIENT_HANDSHAKE_TRAFFIC_SECRET', secrets.client);
    this.log('SERVER_HANDSHAKE_TRAFFIC_SECRET', secrets.server);
    const client = protectorsFromSecret(p, suite, secrets.client, PETREL_PROFILE);
    const server = protectorsFromSecret(p, suite, secrets.server, PETREL_PROFILE);
    this.install(this.isClient ? { level: 'handshake', read: server, write: client } : { level: 'handshake', read: client, write: server });
  }

  /** Application secrets over H(ClientHello..server Finished); the caller decides when to install them. */
  protected deriveOneRtt(serverFinishedHash: Uint8Array): OneRttState {
    const p = this.provider;
    const suite = this.suite!;
    const app = applicationTrafficSecrets(p, this.master!, serverFinishedHash, PREFIX);
    this.log('CLIENT_TRAFFIC_SECRET_0', app.client);
    this.log('SERVER_TRAFFIC_SECRET_0', app.server);
    const [read, write] = this.isClient ? [app.server, app.client] : [app.client, app.server];
    this.oneRtt = {
      suite,
      generation: 0,
      read,
      write,
      readProtector: protectorsFromSecret(p, suite, read, PETREL_PROFILE),
      writeProtector: protectorsFromSecret(p, suite, write, PETREL_PROFILE),
    };
    return this.oneRtt;
  }

  /** resumption_master_secret over H(ClientHello..client Finished); forgets the master secret. */
  protected takeResumptionMaster(): Uint8Array {
    const res = resumptionMasterSecret(this.provider, this.master!, this.transcript.hash(), PREFIX);
    this.forgetMaster();
    return res;
  }

  protected forgetMaster(): void {
    this.master?.fill(0);
    this.master = null;
  }

  protected forgetHandshakeSecrets(): void {
    this.handshakeSecrets?.client.fill(0);
    this.handshakeSecrets?.server.fill(0);
    this.handshakeSecrets = null;
  }

  private abort(e: unknown): HandshakeError {
    let err: HandshakeError;
    if (e instanceof HandshakeFailure) err = e.toHandshakeError();
    else if (e instanceof PetrelWireError) err = { errorCode: handshakeErrorCode('DECODE_ERROR'), reason: 'DECODE_ERROR', message: e.message };
    else err = { errorCode: handshakeErrorCode('INTERNAL_ERROR'), reason: 'INTERNAL_ERROR', message: e instanceof Error ? e.message : String(e) };
    this.failure = err;
    this.done = false;
    this.out.length = 0;
    this.keys.length = 0;
    this.forgetHandshakeSecrets();
    this.master?.fill(0);
    this.master = null;
    this.oneRtt?.read.fill(0);
    this.oneRtt?.write.fill(0);
    this.oneRtt = null;
    return err;
  }
}

type ClientState = 'idle' | 'server_hello' | 'encrypted_extensions' | 'certificate' | 'certificate_verify' | 'finished' | 'done';

const CLIENT_EXPECTS: Record<ClientState, { type: number; level: EncryptionLevel; alt?: number } | null> = {
  idle: null,
  server_hello: { type: HandshakeType.SERVER_HELLO, level: 'initial' },
  encrypted_extensions: { type: HandshakeType.ENCRYPTED_EXTENSIONS, level: 'handshake' },
  certificate: { type: HandshakeType.CERTIFICATE, level: 'handshake', alt: HandshakeType.CONNECT_TOKEN_REQUEST },
  certificate_verify: { type: HandshakeType.CERTIFICATE_VERIFY, level: 'handshake' },
  finished: { type: HandshakeType.FINISHED, level: 'handshake' },
  done: null,
};

export class ClientHandshake extends SecureHandshake {
  readonly isClient = true;
  private readonly opts: ClientSessionOptions;
  private readonly offered: CipherSuite[];
  private readonly offeredCodes: number[];
  private state: ClientState = 'idle';
  private ephemeral: KeyPair | null = null;
  private serverKey: Uint8Array | null = null;
  private pendingAlpn = '';
  private pendingParams: Uint8Array | null = null;
  private tokenRequested = false;
  /** The ticket offered in the ClientHello, if any, and whether the server took it. */
  private offeredTicket: SessionTicket | null = null;
  private resumed = false;
  private early: EarlyDataState = 'none';
  private resumptionMaster: Uint8Array | null = null;
  private ticketsReceived = 0;
  private latestTicket: SessionTicket | null = null;

  constructor(opts: ClientSessionOptions) {
    super(opts);
    this.offered = checkCommon(opts);
    this.offeredCodes = this.offered.map((s) => SUITE_CODES[s]);
    if (new TextEncoder().encode(opts.serverName).length > LIMITS.serverName) invalid('server name too long');
    if (opts.serverKey !== undefined && opts.serverKey.length !== 32) invalid('serverKey must be a 32-byte Ed25519 public key');
    for (const ca of opts.trustedCAs ?? []) if (ca.length !== 32) invalid('each trusted CA must be a 32-byte Ed25519 public key');
    if (opts.connectToken !== undefined && (opts.connectToken.length === 0 || opts.connectToken.length > CONNECT_TOKEN_MAX_SIZE)) {
      invalid(`connectToken must be 1..${CONNECT_TOKEN_MAX_SIZE} bytes`);
    }
    if (opts.serverKey === undefined && (opts.trustedCAs ?? []).length === 0) {
      invalid('a client needs serverKey (pinned) or trustedCAs to authenticate the server');
    }
    this.opts = opts;
  }

  /** The server asked for a connect token, so it may still refuse after our Finished: connect() waits for its HANDSHAKE_DONE. */
  get confirmBeforeConnected(): boolean {
    return this.tokenRequested;
  }

  /** The server's identity key, once the handshake has completed. */
  get serverPublicKey(): Uint8Array | null {
    return this.complete ? this.serverKey : null;
  }

  /** Whether the server took our ticket (no certificate was sent: it proved itself with the PSK). */
  get resumedSession(): boolean {
    return this.resumed;
  }

  /** The fate of our 0-RTT data: 'rejected' means the connection must send it again under 1-RTT keys. */
  get earlyData(): EarlyDataState {
    return this.early;
  }

  /** The server's transport parameters remembered with the ticket: they bind 0-RTT until the real ones arrive. */
  get earlyTransportParameters(): Uint8Array | null {
    return this.early === 'offered' ? this.offeredTicket!.transportParameters : null;
  }

  /** The newest ticket the server issued on this connection (null before one arrives). */
  get sessionTicket(): SessionTicket | null {
    return this.latestTicket;
  }

  start(): void {
    if (this.state !== 'idle') return;
    const p = this.provider;
    this.ephemeral = p.x25519Generate();
    this.clientRandom = p.randomBytes(RANDOM_LENGTH);
    const t = this.opts.ticket;
    const psk = t
      ? clientOffer(t, {
          serverName: this.opts.serverName,
          serverKey: this.opts.serverKey,
          alpn: this.opts.alpn,
          suites: this.offered,
          earlyData: this.opts.earlyData === true,
          now: this.opts.now(),
        })
      : null;
    const hello = encodeClientHello({
      random: this.clientRandom,
      keyShare: this.ephemeral.publicKey,
      suites: this.offeredCodes,
      alpn: [...this.opts.alpn],
      transportParameters: this.opts.transportParameters,
      serverName: this.opts.serverName,
      psk: psk ?? undefined,
    });
    if (psk) {
      this.offeredTicket = t!;
      bindHello(p, t!.psk, hello);
    }
    this.send('initial', hello);
    if (psk?.earlyData) {
      // 0-RTT keys: the ticket's PSK and this ClientHello, usable before the server has answered.
      const secret = earlyTrafficSecret(p, t!.psk, this.transcript.hash());
      this.install({ level: '0rtt', write: protectorsFromSecret(p, t!.suite, secret, PETREL_PROFILE) });
      secret.fill(0);
      this.early = 'offered';
    }
    this.state = 'server_hello';
  }

  protected expected(): { type: number; level: EncryptionLevel; alt?: number } | null {
    const e = CLIENT_EXPECTS[this.state];
    // Resumed: no Certificate, so a ConnectTokenRequest may come right before the Finished.
    if (this.state === 'finished' && this.resumed && !this.tokenRequested) return { ...e!, alt: HandshakeType.CONNECT_TOKEN_REQUEST };
    return this.tokenRequested && e?.alt !== undefined ? { type: e.type, level: e.level } : e;
  }

  protected onMessage(m: RawMessage): void {
    const p = this.provider;
    switch (this.state) {
      case 'server_hello': {
        const sh = decodeServerHello(m.body);
        const suite = suiteFromCode(sh.suite);
        if (suite === null || !this.offered.includes(suite)) {
          fail('ILLEGAL_PARAMETER', `server chose suite 0x${sh.suite.toString(16)}, which was not offered`);
        }
        const ticket = this.offeredTicket;
        if ((sh.resumption === undefined) !== (ticket === null)) {
          fail('ILLEGAL_PARAMETER', 'resumption flags present exactly when a ticket is offered');
        }
        const flags = sh.resumption ?? 0;
        this.resumed = (flags & RESUMPTION_FLAGS.PSK_ACCEPTED) !== 0;
        if (this.resumed && suite !== ticket!.suite) fail('ILLEGAL_PARAMETER', 'a resumed session must keep the ticket suite');
        const earlyTaken = (flags & RESUMPTION_FLAGS.EARLY_DATA_ACCEPTED) !== 0;
        if (earlyTaken && this.early !== 'offered') fail('ILLEGAL_PARAMETER', 'the server accepted 0-RTT data that was not offered');
        if (this.early === 'offered') this.early = earlyTaken ? 'accepted' : 'rejected';
        this.suite = suite;
        this.transcript.add(m.raw);
        this.deriveHandshakeKeys(this.sharedSecret(this.ephemeral!.privateKey, sh.keyShare), this.resumed ? ticket!.psk : undefined);
        if (this.resumed) this.serverKey = ticket!.serverKey;
        this.ephemeral = null;
        this.state = 'encrypted_extensions';
        return;
      }
      case 'encrypted_extensions': {
        const ee = decodeEncryptedExtensions(m.body);
        // Diagnostic only: the signed transcript is what actually defeats suite stripping.
        if (!sameCodes(ee.offeredSuites, this.offeredCodes)) {
          fail('DOWNGRADE_DETECTED', 'the server received a different suite list than was offered');
        }
        if (ee.alpn === '') {
          if (this.opts.alpn.length > 0) fail('NO_COMMON_ALPN', 'the server accepted none of the offered protocols');
        } else if (!this.opts.alpn.includes(ee.alpn)) {
          fail('ILLEGAL_PARAMETER', `server chose protocol ${JSON.stringify(ee.alpn)}, which was not offered`);
        }
        this.pendingAlpn = ee.alpn;
        this.pendingParams = ee.transportParameters;
        this.transcript.add(m.raw);
        this.state = this.resumed ? 'finished' : 'certificate';
        return;
      }
      case 'certificate': {
        if (m.type === HandshakeType.CONNECT_TOKEN_REQUEST) {
          if (m.body.length !== 0) fail('DECODE_ERROR', 'ConnectTokenRequest has an empty body');
          this.tokenRequested = true; // acted on once the server is authenticated
          this.transcript.add(m.raw);
          return;
        }
        const cert = decodeCertificate(m.body);
        verifyServerIdentity(p, cert.publicKey, cert.chain, {
          serverKey: this.opts.serverKey,
          trustedCAs: this.opts.trustedCAs,
          serverName: this.opts.serverName,
          now: this.opts.now,
        });
        this.serverKey = cert.publicKey;
        this.transcript.add(m.raw);
        this.state = 'certificate_verify';
        return;
      }
      case 'certificate_verify': {
        const sig = decodeCertificateVerify(m.body);
        if (!verifyWithContext(p, this.serverKey!, SignatureContext.SERVER_CERTIFICATE_VERIFY, this.transcript.hash(), sig)) {
          fail('BAD_SIGNATURE', 'CertificateVerify does not verify over this handshake');
        }
        this.transcript.add(m.raw);
        this.state = 'finished';
        return;
      }
      case 'finished': {
        if (m.type === HandshakeType.CONNECT_TOKEN_REQUEST) {
          if (m.body.length !== 0) fail('DECODE_ERROR', 'ConnectTokenRequest has an empty body');
          this.tokenRequested = true;
          this.transcript.add(m.raw);
          return;
        }
        const received = decodeFinished(m.body);
        const secrets = this.handshakeSecrets!;
        if (!verifyFinished(p, finishedKey(p, secrets.server, PREFIX), this.transcript.hash(), received)) {
          fail('BAD_FINISHED', 'server Finished does not match this handshake');
        }
        this.transcript.add(m.raw);
        const serverFinishedHash = this.transcript.hash();
        const keys = this.deriveOneRtt(serverFinishedHash);
        // Only now is the request authenticated (CertificateVerify covered it). A client without a token
        // fails here rather than learn it a round trip later.
        if (this.tokenRequested && !this.opts.connectToken) fail('CONNECT_TOKEN_MISSING', 'the server requires a connect token and none was given');
        // The token goes first so that the client Finished MAC covers it (spec §Connect tokens).
        if (this.tokenRequested) this.send('handshake', frameMessage(HandshakeType.CONNECT_TOKEN, this.opts.connectToken!));
        this.send('handshake', encodeFinished(finishedMac(p, finishedKey(p, secrets.client, PREFIX), this.transcript.hash())));
        this.resumptionMaster = this.takeResumptionMaster();
        this.forgetHandshakeSecrets();
        this.install({ level: '1rtt', read: keys.readProtector, write: keys.writeProtector });
        // Only now is the server authenticated, so only now are its choices exposed.
        this.protocol = this.pendingAlpn;
        this.peerParams = this.pendingParams;
        this.transcript.release();
        this.done = true;
        this.state = 'done';
        return;
      }
      default:
        fail('UNEXPECTED_MESSAGE', `no message expected in state ${this.state}`);
    }
  }

  /** NewSessionTicket: derive its PSK and hand it out; past MAX_TICKETS_PER_CONNECTION tickets are ignored. */
  protected override onPostHandshake(m: RawMessage): void {
    if (m.type !== HandshakeType.NEW_SESSION_TICKET) fail('UNEXPECTED_MESSAGE', `handshake message type ${m.type} after the handshake`);
    const nst = decodeNewSessionTicket(m.body);
    if (++this.ticketsReceived > MAX_TICKETS_PER_CONNECTION || !this.resumptionMaster || nst.lifetime === 0) return;
    const ticket = ticketFromMessage(this.provider, nst, this.resumptionMaster, {
      serverName: this.opts.serverName,
      serverKey: this.serverKey!,
      alpn: this.protocol ?? '',
      suite: this.suite!,
      receivedAt: this.opts.now(),
      transportParameters: this.peerParams!,
    });
    if (this.ticketsReceived === MAX_TICKETS_PER_CONNECTION) {
      this.resumptionMaster.fill(0);
      this.resumptionMaster = null;
    }
    this.latestTicket = ticket;
    this.opts.onTicket?.(ticket);
  }
}

export class ServerHandshake extends SecureHandshake {
  readonly isClient = false;
  private readonly opts: ServerSessionOptions;
  private readonly accepted: CipherSuite[];
  private state: 'client_hello' | 'finished' | 'done' = 'client_hello';
  private clientFinishedKey: Uint8Array | null = null;
  private clientServerName: string | null = null;
  private tokenInfo: ConnectTokenInfo | null = null;
  private tokenBytes: Uint8Array | null = null;
  private resumed = false;
  private earlyAccepted = false;

  constructor(opts: ServerSessionOptions) {
    super(opts);
    this.accepted = checkCommon(opts);
    if (opts.identity.publicKey.length !== 32 || opts.identity.privateKey.length !== 32) invalid('identity must be a raw Ed25519 key pair');
    const chain = opts.certificateChain ?? [];
    if (chain.length > LIMITS.chain) invalid(`certificate chain longer than ${LIMITS.chain}`);
    if (chain.length > 0) {
      let leafKey: Uint8Array | null = null;
      try {
        leafKey = decodeCertificateBytes(chain[0]!).publicKey;
      } catch (e) {
        invalid(`certificateChain[0] is not a certificate: ${(e as Error).message}`);
      }
      if (leafKey.some((b, i) => b !== opts.identity.publicKey[i])) invalid('certificateChain[0] does not certify identity.publicKey');
    }
    this.opts = opts;
  }

  /** The server name the client asked for (from its ClientHello), once received. */
  get peerServerName(): string | null {
    return this.clientServerName;
  }

  /** The verified connect token's contents, once the client Finished has confirmed it (null otherwise). */
  get connectToken(): ConnectTokenInfo | null {
    return this.complete ? this.tokenInfo : null;
  }

  /** Whether the client resumed with a ticket (no certificate or signature was sent). */
  get resumedSession(): boolean {
    return this.resumed;
  }

  /** 0-RTT bytes this connection takes (0 when 0-RTT was not offered or not accepted). */
  get maxEarlyData(): number {
    return this.earlyAccepted ? this.opts.tickets!.maxEarlyData : 0;
  }

  start(): void {
    // The server speaks second.
  }

  protected expected(): { type: number; level: EncryptionLevel; alt?: number } | null {
    if (this.state === 'client_hello') return { type: HandshakeType.CLIENT_HELLO, level: 'initial' };
    // A client sends its token only when asked (ConnectTokenRequest), once, before its Finished.
    if (this.state === 'finished') {
      const alt = this.opts.connectTokenPolicy && !this.tokenBytes ? HandshakeType.CONNECT_TOKEN : undefined;
      return { type: HandshakeType.FINISHED, level: 'handshake', alt };
    }
    return null;
  }

  protected onMessage(m: RawMessage): void {
    if (this.state === 'client_hello') this.onClientHello(m);
    else if (m.type === HandshakeType.CONNECT_TOKEN) this.onConnectToken(m);
    else this.onClientFinished(m);
  }

  private onConnectToken(m: RawMessage): void {
    this.tokenBytes = m.body.slice();
    this.transcript.add(m.raw);
  }

  private chooseAlpn(offered: readonly string[]): string {
    const accepted = this.opts.alpn;
    // Client preference order; a server accepting nothing in particular takes the client's first choice.
    const chosen = accepted.length === 0 ? (offered[0] ?? '') : offered.find((x) => accepted.includes(x));
    if (chosen === undefined) fail('NO_COMMON_ALPN', `none of the offered protocols ${JSON.stringify(offered)} is accepted`);
    return chosen;
  }

  private onClientHello(m: RawMessage): void {
    const p = this.provider;
    const ch = decodeClientHello(m.body);
    const suite = this.accepted.find((s) => ch.suites.includes(SUITE_CODES[s]));
    if (suite === undefined) fail('NO_COMMON_SUITE', 'no offered cipher suite is accepted');
    const alpn = this.chooseAlpn(ch.alpn);
    const policy = this.opts.tickets;
    const resumption = ch.psk && policy ? serverResumption(p, policy, ch, m.raw, { suite, alpn, acceptedSuites: this.accepted }) : null;
    this.resumed = resumption !== null;
    this.earlyAccepted = resumption?.early === true;
    this.suite = resumption ? resumption.state.suite : suite;
    this.clientRandom = ch.random;
    this.clientServerName = ch.serverName;
    this.transcript.add(m.raw);
    const psk = resumption?.state.psk;
    if (psk && this.earlyAccepted) {
      const secret = earlyTrafficSecret(p, psk, this.transcript.hash());
      this.install({ level: '0rtt', read: protectorsFromSecret(p, this.suite, secret, PETREL_PROFILE) });
      secret.fill(0);
    }

    const eph = p.x25519Generate();
    const shared = this.sharedSecret(eph.privateKey, ch.keyShare);
    const flags = ch.psk
      ? (this.resumed ? RESUMPTION_FLAGS.PSK_ACCEPTED : 0) | (this.earlyAccepted ? RESUMPTION_FLAGS.EARLY_DATA_ACCEPTED : 0)
      : undefined;
    const hello = { random: p.randomBytes(RANDOM_LENGTH), keyShare: eph.publicKey, suite: SUITE_CODES[this.suite], resumption: flags };
    this.send('initial', encodeServerHello(hello));
    this.deriveHandshakeKeys(shared, psk);

    this.send('handshake', encodeEncryptedExtensions({ alpn, transportParameters: this.opts.transportParameters, offeredSuites: ch.suites }));
    if (this.opts.connectTokenPolicy) this.send('handshake', frameMessage(HandshakeType.CONNECT_TOKEN_REQUEST, new Uint8Array(0)));
    if (!this.resumed) this.sendCertificate();
    const secrets = this.handshakeSecrets!;
    this.send('handshake', encodeFinished(finishedMac(p, finishedKey(p, secrets.server, PREFIX), this.transcript.hash())));

    this.clientFinishedKey = finishedKey(p, secrets.client, PREFIX);
    const keys = this.deriveOneRtt(this.transcript.hash());
    // 0.5-RTT: the server may send 1-RTT data once its Finished is out; it reads 1-RTT only after the client's.
    this.install({ level: '1rtt', write: keys.writeProtector });
    this.protocol = alpn;
    this.peerParams = ch.transportParameters;
    this.state = 'finished';
  }

  /** Certificate and CertificateVerify: the signature a resumed handshake saves. */
  private sendCertificate(): void {
    const p = this.provider;
    this.send('handshake', encodeCertificate({ publicKey: this.opts.identity.publicKey, chain: [...(this.opts.certificateChain ?? [])] }));
    const signature = signWithContext(p, this.opts.identity.privateKey, SignatureContext.SERVER_CERTIFICATE_VERIFY, this.transcript.hash());
    this.send('handshake', encodeCertificateVerify(signature));
  }

  private onClientFinished(m: RawMessage): void {
    const received = decodeFinished(m.body);
    if (!verifyFinished(this.provider, this.clientFinishedKey!, this.transcript.hash(), received)) {
      fail('BAD_FINISHED', 'client Finished does not match this handshake');
    }
    // Checked only once the Finished has bound the token to this handshake, so a bad flight uses up nothing.
    const policy = this.opts.connectTokenPolicy;
    if (policy) {
      if (!this.tokenBytes) fail('CONNECT_TOKEN_MISSING', 'this server requires a connect token');
      this.tokenInfo = policy.verify(this.tokenBytes);
      // The accept stage that needs the token (spec §Connect tokens): only now is its user data known.
      const refusal = this.opts.admit?.({ alpn: this.protocol ?? '', serverName: this.clientServerName, connectToken: this.tokenInfo });
      if (refusal != null) fail('REFUSED', refusal);
    }
    this.transcript.add(m.raw);
    this.clientFinishedKey!.fill(0);
    this.clientFinishedKey = null;
    if (this.opts.tickets && this.opts.tickets.perConnection > 0) {
      const info = { suite: this.suite!, alpn: this.protocol ?? '', serverName: this.clientServerName ?? '' };
      for (const nst of newSessionTickets(this.provider, this.opts.tickets, this.takeResumptionMaster(), info)) this.send('1rtt', nst);
    } else this.forgetMaster();
    this.forgetHandshakeSecrets();
    this.install({ level: '1rtt', read: this.oneRtt!.readProtector });
    // Nothing more is derived from the transcript or the raw token (the server reads no post-handshake messages).
    this.transcript.release();
    this.tokenBytes = null;
    this.done = true;
    this.state = 'done';
  }
}

export function createClientSession(opts: ClientSessionOptions): ClientHandshake {
  return new ClientHandshake(opts);
}

export function createServerSession(opts: ServerSessionOptions): ServerHandshake {
  return new ServerHandshake(opts);
}
