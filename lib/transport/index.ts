export { UdpEndpoint, nodeEnv, DEFAULT_SOCKET_BUFFER } from './udp-endpoint.js';
export type { EndpointHandler, UdpEndpointOptions, UdpEndpointStats } from './udp-endpoint.js';
