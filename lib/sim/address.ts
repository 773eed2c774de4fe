import type { SimAddress } from './types.js';

/** `host:port` (`[host]:port` for IPv6 hosts): the key used for link names and traces. */
export function addressKey(a: SimAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function sameAddress(a: SimAddress, b: SimAddress): boolean {
  return a.host === b.host && a.port === b.port;
}
