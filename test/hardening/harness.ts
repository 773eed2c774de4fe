/**
 * A small lossless network of sans-IO endpoints for the hardening tests: real (secure) crypto, any number of
 * addresses, a virtual clock, and per-destination byte counts so a test can check what an attacker's
 * datagrams made the server send.
 */
import { crc32 } from 'node:zlib';
import { randomFillSync } from 'node:crypto';
import { Endpoint, type EndpointEvent, type ServerConfig } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { ConnectionOptions, CoreEnv, CryptoConfig, PeerAddress } from '../../lib/connection/types.js';
import { addressKey } from '../../lib/connection/types.js';
import { secureCrypto } from '../../lib/crypto/secure.js';
import { nodeCryptoProvider } from '../../lib/crypto/node-provider.js';
import { generateIdentity as generateKeyPair } from '../../lib/crypto/handshake/index.js';
import { RetryIntegrity } from '../../lib/crypto/retry.js';
import { AddressTokens } from '../../lib/endpoint/retry-token.js';
import { capturingCrypto } from '../../tools/attack/craft.js';
import { createHmac } from 'node:crypto';

export const SERVER: PeerAddress = { host: '192.0.2.1', port: 4433 };

export function env(resetKey?: Uint8Array): CoreEnv {
  return {
    randomFill: (out) => void randomFillSync(out),
    crc32: (d) => crc32(d),
    resetToken: resetKey ? (cid) => new Uint8Array(createHmac('sha256', resetKey).update(cid).digest().subarray(0, 16)) : undefined,
    retryIntegrity: new RetryIntegrity(nodeCryptoProvider),
  };
}

const identity = generateKeyPair(nodeCryptoProvider);
export const serverCrypto = secureCrypto({ provider: nodeCryptoProvider, server: { identity } });
export function clientCrypto(): ReturnType<typeof capturingCrypto> {
  return capturingCrypto(secureCrypto({ provider: nodeCryptoProvider, client: { serverKey: identity.publicKey, now: () => Date.now() } }));
}

export function serverConfig(extra: Partial<ServerConfig> = {}, clock: () => number = () => 0): ServerConfig {
  return {
    crypto: serverCrypto,
    tokens: new AddressTokens({ hmacSha256: nodeCryptoProvider.hmacSha256, key: new Uint8Array(32).fill(7), clock }),
    retryIntegrity: new RetryIntegrity(nodeCryptoProvider),
    ...extra,
  };
}

export class Net {
  now = 0;
  readonly nodes = new Map<string, Endpoint>();
  /** Bytes sent by `from` to each address, and received from each address. */
  readonly sentTo = new Map<string, number>();
  readonly receivedFrom = new Map<string, number>();
  readonly events = new Map<Endpoint, EndpointEvent[]>();
  private readonly buf = new Uint8Array(2048);

  add(addr: PeerAddress, ep: Endpoint): Endpoint {
    this.nodes.set(addressKey(addr), ep);
    this.events.set(ep, []);
    return ep;
  }

  addrOf(ep: Endpoint): PeerAddress {
    for (const [k, e] of this.nodes) if (e === ep) return { host: k.split('|')[0]!, port: Number(k.split('|')[1]) };
    throw new Error('unknown endpoint');
  }

  client(
    addr: PeerAddress,
    opts: { options?: ConnectionOptions; crypto?: CryptoConfig } = {},
  ): { ep: Endpoint; conn: Connection; keys: ReturnType<typeof clientCrypto> } {
    const ep = this.add(addr, new Endpoint({ env: env() }));
    const keys = clientCrypto();
    const conn = ep.connect({ remote: SERVER, crypto: opts.crypto ?? keys.crypto, options: opts.options, now: this.now });
    return { ep, conn, keys };
  }

  /** Delivers `data` from `from` to the endpoint at `to` (if any), counting it. */
  inject(data: Uint8Array, from: PeerAddress, to: PeerAddress = SERVER): void {
    const k = addressKey(from);
    this.receivedFrom.set(k, (this.receivedFrom.get(k) ?? 0) + data.length);
    this.nodes.get(addressKey(to))?.handleDatagram(data.slice(), from, this.now);
  }

  /** Moves every pending datagram (instantly) until nothing is sent, then fires due timers. Returns datagrams moved. */
  run(maxRounds = 10_000): number {
    let moved = 0;
    for (let round = 0; round < maxRounds; round++) {
      let any = false;
      for (const [k, ep] of this.nodes) {
        const from = { host: k.split('|')[0]!, port: Number(k.split('|')[1]) };
        for (let t = ep.pollTransmit(this.now, this.buf); t; t = ep.pollTransmit(this.now, this.buf)) {
          any = true;
          moved++;
          const tk = addressKey(t.to);
          this.sentTo.set(tk, (this.sentTo.get(tk) ?? 0) + t.length);
          this.nodes.get(tk)?.handleDatagram(this.buf.slice(0, t.length), from, this.now);
        }
        for (let e = ep.pollEvent(); e; e = ep.pollEvent()) this.events.get(ep)!.push(e);
      }
      if (!any) break;
    }
    return moved;
  }

  /** Advances the clock by `ms` in steps, firing timers and moving datagrams. */
  advance(ms: number, step = 5): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now = Math.min(end, this.now + step);
      for (const ep of this.nodes.values()) {
        const t = ep.pollTimeout();
        if (t !== null && t <= this.now) ep.handleTimeout(this.now);
      }
      this.run();
    }
  }

  closedInfo(ep: Endpoint, conn: Connection): { errorCode: number; reason: string; initiator: string } | null {
    for (const e of this.events.get(ep)!) {
      if (e.kind === 'connection' && e.connection === conn && e.event.type === 'closed') return e.event.info;
    }
    return null;
  }

  connected(ep: Endpoint, conn: Connection): boolean {
    return this.events.get(ep)!.some((e) => e.kind === 'connection' && e.connection === conn && e.event.type === 'connected');
  }
}

/** A client and a server endpoint with one completed (secure) handshake, and the client's 1-RTT write key. */
export function connectedPair(options?: import('../../lib/connection/types.js').ConnectionOptions): {
  net: Net;
  server: Endpoint;
  client: ReturnType<Net['client']>;
  serverConn: Connection;
  write: import('../../lib/crypto/types.js').PacketProtector;
} {
  const net = new Net();
  const server = net.add(SERVER, new Endpoint({ env: env(new Uint8Array(32).fill(1)), server: serverConfig({ options }) }));
  const client = net.client({ host: '198.51.100.20', port: 6000 }, { options });
  net.advance(200, 5);
  const serverConn = [...server.connections()][0]!;
  if (!net.connected(server, serverConn)) throw new Error('handshake did not complete');
  return { net, server, client, serverConn, write: client.keys.oneRttWrite()! };
}
