/**
 * The attacks of `petrel attack`, each against a live server over UDP, rate- and time-bounded. Every kind
 * counts what it sent and what the server sent back (to the attacking sockets), which is what the server paid
 * in output; the server's own CPU and memory are read from its side (the benchmark does that).
 */
import dgram from 'node:dgram';
import { randomFillSync } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { Endpoint } from '../../lib/endpoint/endpoint.js';
import type { Connection } from '../../lib/connection/connection.js';
import type { CryptoConfig, PeerAddress } from '../../lib/connection/types.js';
import type { PacketProtector } from '../../lib/crypto/types.js';
import type { Frame } from '../../lib/wire/frame-types.js';
import { capturingCrypto, junkInitial, sealedInitial, sealedShort } from './craft.js';

export const KINDS = ['junk-initial', 'crypto-frag', 'stream-frag', 'path-challenge', 'cid-flood', 'hello-flood'] as const;
export type AttackKind = (typeof KINDS)[number];

export interface AttackOptions {
  kind: AttackKind;
  target: PeerAddress;
  /** Datagrams per second. */
  rate: number;
  /** Seconds. */
  duration: number;
  /** Client crypto for kinds that need a real handshake (stream-frag, path-challenge, cid-flood) or a real ClientHello. */
  crypto: CryptoConfig;
}

export interface AttackReport {
  kind: AttackKind;
  datagramsSent: number;
  bytesSent: number;
  repliesReceived: number;
  replyBytes: number;
  /** replyBytes / bytesSent. */
  amplification: number;
  elapsedMs: number;
  note: string;
}

const rnd = (b: Uint8Array): void => void randomFillSync(b);

class Counter {
  sent = 0;
  bytes = 0;
  replies = 0;
  replyBytes = 0;
}

async function udpSocket(target: PeerAddress, counter: Counter, onReply?: (msg: Buffer) => void): Promise<dgram.Socket> {
  const s = dgram.createSocket(target.host.includes(':') ? 'udp6' : 'udp4');
  s.on('message', (msg) => {
    counter.replies++;
    counter.replyBytes += msg.length;
    onReply?.(msg);
  });
  s.on('error', () => {});
  await new Promise<void>((r) => s.bind(0, r));
  return s;
}

/** Sends `make(i)` at `rate` per second for `duration` s (in 10 ms ticks); stops early when `stop()` says so. */
async function paced(o: AttackOptions, send: (i: number) => void, stop: () => boolean = () => false): Promise<void> {
  const start = performance.now();
  const end = start + o.duration * 1000;
  let i = 0;
  while (performance.now() < end && !stop()) {
    const due = Math.floor(((performance.now() - start) / 1000) * o.rate);
    while (i < due && !stop()) send(i++);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function report(kind: AttackKind, c: Counter, t0: number, note: string): AttackReport {
  return {
    kind,
    datagramsSent: c.sent,
    bytesSent: c.bytes,
    repliesReceived: c.replies,
    replyBytes: c.replyBytes,
    amplification: c.bytes > 0 ? c.replyBytes / c.bytes : 0,
    elapsedMs: performance.now() - t0,
    note,
  };
}

function sendOn(s: dgram.Socket, c: Counter, to: PeerAddress, d: Uint8Array): void {
  c.sent++;
  c.bytes += d.length;
  s.send(d, to.port, to.host);
}

/** A real client handshake driven by hand; resolves with the connection and its captured 1-RTT write keys. */
async function handshake(o: AttackOptions, s: dgram.Socket, c: Counter): Promise<{ conn: Connection; write: PacketProtector; detach(): void }> {
  const cap = capturingCrypto(o.crypto);
  const ep = new Endpoint({ env: { randomFill: rnd, crc32: (d) => crc32(d) } });
  const conn = ep.connect({ remote: o.target, crypto: cap.crypto, now: performance.now() });
  const buf = new Uint8Array(2048);
  let attached = true;
  const flush = (): void => {
    for (let t = ep.pollTransmit(performance.now(), buf); t; t = ep.pollTransmit(performance.now(), buf)) sendOn(s, c, t.to, buf.slice(0, t.length));
  };
  s.on('message', (msg, rinfo) => {
    if (!attached) return;
    ep.handleDatagram(new Uint8Array(msg), { host: rinfo.address, port: rinfo.port }, performance.now());
    flush();
  });
  const timer = setInterval(() => {
    ep.handleTimeout(performance.now());
    flush();
  }, 5);
  flush();
  const deadline = performance.now() + 10_000;
  for (;;) {
    let connected = false;
    for (let e = ep.pollEvent(); e; e = ep.pollEvent()) {
      if (e.kind === 'connection' && e.event.type === 'connected') connected = true;
      if (e.kind === 'connection' && e.event.type === 'closed') {
        clearInterval(timer);
        throw new Error(`handshake failed: ${e.event.info.reason}`);
      }
    }
    if (connected && cap.oneRttWrite()) break;
    if (performance.now() > deadline) {
      clearInterval(timer);
      throw new Error('no handshake within 10 s (is --server-key right?)');
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  // Let the handshake confirmation land, then stop answering: from here on the attacker speaks for itself.
  await new Promise((r) => setTimeout(r, 50));
  return {
    conn,
    write: cap.oneRttWrite()!,
    detach: () => {
      attached = false;
      clearInterval(timer);
    },
  };
}

export async function runAttack(o: AttackOptions): Promise<AttackReport> {
  const c = new Counter();
  const t0 = performance.now();
  const to = o.target;
  switch (o.kind) {
    case 'junk-initial': {
      const s = await udpSocket(to, c);
      await paced(o, () =>
        sendOn(
          s,
          c,
          to,
          junkInitial(rnd, (d) => crc32(d)),
        ),
      );
      await settle();
      s.close();
      return report(o.kind, c, t0, 'CRC-valid Initials that do not authenticate: the server should hold nothing and send nothing');
    }
    case 'hello-flood': {
      // Real ClientHellos that never continue (a spoofer never sees the answer), each from a fresh client id.
      const s = await udpSocket(to, c);
      const buf = new Uint8Array(2048);
      await paced(o, () => {
        const ep = new Endpoint({ env: { randomFill: rnd, crc32: (d) => crc32(d) } });
        ep.connect({ remote: to, crypto: o.crypto, now: 0 });
        const t = ep.pollTransmit(0, buf);
        if (t) sendOn(s, c, to, buf.slice(0, t.length));
      });
      await settle();
      s.close();
      return report(o.kind, c, t0, 'spoofed-style ClientHellos: the server should hold at most its half-open caps and answer with Retry (≤ 3x)');
    }
    case 'crypto-frag': {
      // One spoofed connection: 1-byte CRYPTO fragments at every other offset, as many as fit per Initial.
      const s = await udpSocket(to, c);
      const dcid = new Uint8Array(8);
      const scid = new Uint8Array(8);
      rnd(dcid);
      rnd(scid);
      const { write } = o.crypto.initialProtectors(dcid, true);
      let off = 1;
      await paced(o, (i) => {
        const frames: Frame[] = [];
        for (let k = 0; k < 150; k++, off += 2) frames.push({ type: 'crypto', offset: off, data: new Uint8Array([0x16]) });
        sendOn(
          s,
          c,
          to,
          sealedInitial({ write, dcid, scid, pn: i, frames }, (d) => crc32(d)),
        );
      });
      await settle();
      s.close();
      return report(o.kind, c, t0, `${(off - 1) / 2} CRYPTO fragments sent into one half-open connection`);
    }
    case 'stream-frag':
    case 'path-challenge':
    case 'cid-flood': {
      const s = await udpSocket(to, c);
      const hs = await handshake(o, s, c);
      const dcid = hs.conn.remoteCid;
      let pn = 1 << 20;
      let note = '';
      const seal = (frames: Frame[]): Uint8Array => sealedShort({ write: hs.write, dcid, pn: pn++, frames }, (d) => crc32(d));
      const attackCounter = new Counter();
      // Replies to the handshake socket during the attack are the server's cost for this connection.
      s.removeAllListeners('message');
      s.on('message', (msg) => {
        attackCounter.replies++;
        attackCounter.replyBytes += msg.length;
      });
      hs.detach();
      if (o.kind === 'path-challenge') {
        // PATH_CHALLENGEs from another port (a spoofed address, as far as the server can tell).
        const spoofed = new Counter();
        const spoof = await udpSocket(to, spoofed);
        await paced(o, () => {
          const challenge = new Uint8Array(8);
          rnd(challenge);
          sendOn(spoof, spoofed, to, seal([{ type: 'path_challenge', data: challenge }]));
        });
        await settle();
        spoof.close();
        note = `to the unvalidated address: ${spoofed.replies} replies, ${spoofed.replyBytes} bytes for ${spoofed.bytes} sent (${(spoofed.replyBytes / Math.max(1, spoofed.bytes)).toFixed(2)}x)`;
        attackCounter.sent += spoofed.sent;
        attackCounter.bytes += spoofed.bytes;
        attackCounter.replies += spoofed.replies;
        attackCounter.replyBytes += spoofed.replyBytes;
      } else if (o.kind === 'stream-frag') {
        let off = 1;
        await paced(o, () => {
          const frames: Frame[] = [];
          for (let k = 0; k < 120; k++, off += 2) frames.push({ type: 'stream', streamId: 0, offset: off, data: new Uint8Array([0x61]), fin: false });
          sendOn(s, attackCounter, to, seal(frames));
        });
        await settle();
      } else {
        // NEW_CONNECTION_ID: one retiring everything below a high sequence, then a flood below it.
        const token = (seq: number): Uint8Array => {
          const t = new Uint8Array(16);
          rnd(t);
          t[0] = seq & 255;
          return t;
        };
        const cid = (): Uint8Array => {
          const b = new Uint8Array(8);
          rnd(b);
          return b;
        };
        const top = 1_000_000;
        sendOn(
          s,
          attackCounter,
          to,
          seal([{ type: 'new_connection_id', sequence: top, retirePriorTo: top, connectionId: cid(), resetToken: token(top) }]),
        );
        let seq = 1;
        await paced(o, () => {
          const frames: Frame[] = [];
          for (let k = 0; k < 30 && seq < top; k++, seq++) {
            frames.push({ type: 'new_connection_id', sequence: seq, retirePriorTo: 0, connectionId: cid(), resetToken: token(seq) });
          }
          sendOn(s, attackCounter, to, seal(frames));
        });
        await settle();
      }
      s.close();
      const r = report(
        o.kind,
        attackCounter,
        t0,
        note ||
          (attackCounter.replies === 0 ? 'the server sent nothing back during the attack' : 'replies include the close of the attacked connection'),
      );
      r.datagramsSent += c.sent;
      r.bytesSent += c.bytes;
      r.amplification = r.bytesSent > 0 ? r.replyBytes / r.bytesSent : 0;
      return r;
    }
  }
}

function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 300));
}
