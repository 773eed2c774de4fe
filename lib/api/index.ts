/** The public SDK surface: listen(), connect(), generateIdentity() and the types they hand out. */
export { listen, PetrelServer } from './server.js';
export type { PetrelServerEvents, ServerCloseOptions, ServerStats } from './server.js';
export { connect } from './connect.js';
export { PetrelConnection } from './connection.js';
export type { ChannelOptions, CloseResult, OpenStreamOptions, PetrelConnectionEvents, PetrelConnectionStats } from './connection.js';
export { PetrelStream } from './stream.js';
export { PetrelChannel } from './channel.js';
export type { ChannelMode, ChannelStatsPublic, PetrelChannelEvents } from './channel.js';
export { msgpackCodec, rawCodec, scanMsgpack, DEFAULT_MAX_DEPTH } from './codec.js';
export type { Codec, CodecLimits } from './codec.js';
export { generateIdentity, identityFromPrivateKey } from './identity.js';
export { fingerprint, parseFingerprint } from '../crypto/handshake/index.js';
export type { Identity } from './identity.js';
export type { ConnectOptions, ListenOptions, TransportOptions, TrustAnchor } from './options.js';
export type { ChannelStats } from '../channel/channel-layer.js';
export type { UdpEndpointStats } from '../transport/udp-endpoint.js';
export { PetrelError, isPetrelError } from '../errors.js';
export type { QlogOption, QlogSinkFactory, QlogConnectionInfo } from './qlog.js';
