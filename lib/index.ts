/**
 * Petrel public entry point.
 *
 * - The SDK most users want: `listen`, `connect`, streams, datagrams and channels (lib/api).
 * - The sans-IO core for custom drivers, simulation and conformance: `Endpoint`, `Connection`.
 * - The wire codec, crypto building blocks and the deterministic simulator.
 */
export { PetrelError, PetrelWireError, TransportErrorCode, isPetrelError, transportErrorName } from './errors.js';
export type { TransportErrorName } from './errors.js';

// Sans-IO core.
export { Endpoint } from './endpoint/endpoint.js';
export type { AcceptInfo, EndpointConfig, EndpointEvent, EndpointStats, ServerConfig } from './endpoint/endpoint.js';
export { Connection } from './connection/connection.js';
export type { ConnectionState } from './connection/connection.js';
export type {
  CloseInfo,
  CloseInitiator,
  ConnectionEvent,
  ConnectionOptions,
  ConnectionStats,
  CoreEnv,
  CryptoConfig,
  PeerAddress,
} from './connection/types.js';

// Crypto.
export { insecureCrypto } from './crypto/insecure.js';
export { secureCrypto } from './crypto/secure.js';
export type { SecureCryptoOptions, SecureClientOptions, SecureServerOptions } from './crypto/secure.js';
export { nodeCryptoProvider } from './crypto/node-provider.js';
export type { CryptoProvider, CipherSuite } from './crypto/provider.js';
export { fingerprint, parseFingerprint, issueCertificate, decodeCertificate } from './crypto/handshake/index.js';
export type { EncryptionLevel, HandshakeSession, PacketProtector } from './crypto/types.js';

// Wire format.
export { PETREL_VERSION, CID_LENGTH } from './wire/packet.js';
export { encodeFrame, decodeFrame, decodeFrames, frameSize } from './wire/frames.js';
export type { Frame, FrameKind } from './wire/frame-types.js';
export { encodeTransportParameters, decodeTransportParameters, DEFAULT_TRANSPORT_PARAMETERS } from './wire/transport-params.js';
export type { TransportParameters } from './wire/transport-params.js';
export { MAX_DATAGRAM_IPV4, MAX_DATAGRAM_IPV6, MIN_INITIAL_DATAGRAM } from './wire/datagram.js';

// Deterministic simulator.
export * as sim from './sim/index.js';
export { EndpointNode } from './sim/endpoint-node.js';

// The SDK: UDP runtime, public API, channels.
export {
  listen,
  connect,
  PetrelServer,
  PetrelConnection,
  PetrelStream,
  PetrelChannel,
  generateIdentity,
  identityFromPrivateKey,
  mintConnectToken,
  SessionTicketStore,
  msgpackCodec,
  rawCodec,
  scanMsgpack,
  DEFAULT_MAX_DEPTH,
} from './api/index.js';
export type {
  ListenOptions,
  ConnectOptions,
  TransportOptions,
  TrustAnchor,
  Identity,
  ConnectTokenInfo,
  MintConnectTokenOptions,
  RequireConnectTokenOptions,
  ServerAcceptInfo,
  SessionTicket,
  TicketOptions,
  TicketStats,
  TicketStoreOptions,
  EarlyDataOptions,
  CloseResult,
  ChannelOptions,
  OpenStreamOptions,
  ChannelMode,
  Codec,
  CodecLimits,
  PetrelConnectionStats,
  PetrelConnectionEvents,
  PetrelServerEvents,
  PetrelChannelEvents,
  ChannelStatsPublic,
  ServerCloseOptions,
  ServerStats,
  ChannelStats,
  UdpEndpointStats,
  QlogOption,
  QlogSinkFactory,
  QlogConnectionInfo,
} from './api/index.js';
// Realtime helpers (issue 12): reconnecting client, encode-once broadcast.
export { reconnecting, ReconnectingClient, backoffDelay, broadcast, prepare } from './api/index.js';
export type {
  BackoffOptions,
  BroadcastResult,
  ChannelSendOptions,
  ConnectedInfo,
  MsgpackOptions,
  PreparedMessage,
  PrepareOptions,
  ReconnectOptions,
  ReconnectingClientEvents,
} from './api/index.js';
export { UdpEndpoint, nodeEnv } from './transport/index.js';
export type { EndpointHandler, UdpEndpointOptions } from './transport/index.js';
export { ChannelLayer } from './channel/index.js';
export type { ChannelLayerEvent, ChannelLayerOptions } from './channel/index.js';
// HTTP/3-style request/response with QPACK (lib/http); everything else of it (frames, session) under `http`.
export { request, serveHttp, HttpError, HttpErrorCode, QpackEncoder, QpackDecoder } from './http/index.js';
export type { RequestOptions, HttpResponse, HttpRequest, ResponseWriter, RequestHandler, HttpServerHandle, HttpOptions } from './http/index.js';
export * as http from './http/index.js';
