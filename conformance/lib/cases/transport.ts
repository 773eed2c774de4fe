/** Cases from spec/transport.md: frames per space, amplification, closing, resets, paths, ids, key update. */
import type { Frame } from '../../../lib/wire/frame-types.js';
import { Code, expectClose, fail, frameOf, nonStrict, pass, unsupported, type Case, type CaseContext, type Outcome } from '../case.js';
import type { Probe } from '../probe.js';

/** Sends the ClientHello in an Initial together with `extra` frames (which do not belong there). */
async function initialWith(ctx: CaseContext, extra: Frame[]): Promise<Probe> {
  const p = await ctx.probe();
  const out = p.session.pollOutput();
  if (!out) throw new Error('no ClientHello');
  p.spaces.initial.cryptoSent = out.data.length;
  p.send('initial', [{ type: 'crypto', offset: 0, data: out.data } as Frame, ...extra]);
  return p;
}

const wrongSpace = (id: string, label: string, frame: Frame): Case => ({
  id,
  spec: { file: 'transport.md', section: 'Error codes' },
  requirement: 'a frame not allowed in its packet type',
  role: 'server',
  async run(ctx) {
    const p = await initialWith(ctx, [frame]);
    return expectClose(p, Code.PROTOCOL_VIOLATION, `${label} in an Initial packet`);
  },
});

/** Waits until nothing has arrived for `ms`. */
async function quiet(p: Probe, ms: number): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const n = p.datagrams.length;
    await p.waitAny(ms);
    if (p.datagrams.length === n) return;
  }
}

/** A close we expect during the handshake: PASS on the code, NON-STRICT when it came in a space we cannot read. */
async function expectHandshakeClose(p: Probe, code: number, what: string): Promise<Outcome> {
  const completed = await p.handshake(2000);
  if (p.peerClose) return expectClose(p, code, what, 10);
  if (completed) return fail(`${what}: the handshake completed`);
  const unreadable = p.datagrams.some((d) => d.packets.some((x) => x.space === 'undecryptable'));
  return unreadable
    ? nonStrict(
        `${what}: the server stopped with a packet we cannot read (a close sent only in the Handshake space, whose keys its ServerHello never gave us)`,
      )
    : fail(`${what}: no CONNECTION_CLOSE and no completion`);
}

const bytes = (n: number, v = 7): Uint8Array => new Uint8Array(n).fill(v);

export const transportCases: Case[] = [
  wrongSpace('transport/error-codes/1', 'STREAM', { type: 'stream', streamId: 0, offset: 0, data: bytes(4), fin: false } as Frame),
  wrongSpace('transport/error-codes/2', 'MAX_DATA', { type: 'max_data', maximum: 1 << 20 } as Frame),
  wrongSpace('transport/error-codes/3', 'NEW_CONNECTION_ID', {
    type: 'new_connection_id',
    sequence: 1,
    retirePriorTo: 0,
    connectionId: bytes(8, 1),
    resetToken: bytes(16, 2),
  } as Frame),
  wrongSpace('transport/error-codes/4', 'DATAGRAM', { type: 'datagram', data: bytes(10) } as Frame),
  wrongSpace('transport/error-codes/5', 'PATH_CHALLENGE', { type: 'path_challenge', data: bytes(8, 3) } as Frame),
  {
    id: 'transport/error-codes/6',
    spec: { file: 'transport.md', section: 'Error codes' },
    requirement: 'HANDSHAKE_DONE from a client',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [{ type: 'handshake_done' } as Frame]);
      return expectClose(p, Code.PROTOCOL_VIOLATION, 'HANDSHAKE_DONE from the client');
    },
  },
  {
    id: 'transport/error-codes/7',
    spec: { file: 'transport.md', section: 'Error codes' },
    requirement: 'NEW_TOKEN from a client',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [{ type: 'new_token', token: bytes(20) } as Frame]);
      return expectClose(p, Code.PROTOCOL_VIOLATION, 'NEW_TOKEN from the client');
    },
  },
  {
    id: 'transport/error-codes/8',
    spec: { file: 'transport.md', section: 'Error codes' },
    requirement: 'an ACK of a packet number never sent',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [{ type: 'ack', ackDelay: 0, ranges: [{ largest: 100_000, smallest: 99_990 }] } as Frame], { noAck: true });
      return expectClose(p, Code.PROTOCOL_VIOLATION, 'ACK of packet numbers 99990–100000');
    },
  },
  {
    id: 'transport/receiving/1',
    spec: { file: 'transport.md', section: 'Receiving' },
    requirement: 'Reserved header bits that are not 0 are a PROTOCOL_VIOLATION',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [{ type: 'ping' } as Frame], { reservedBits: 0x18 });
      return expectClose(p, Code.PROTOCOL_VIOLATION, '1-RTT packet with reserved bits 11');
    },
  },
  {
    id: 'transport/anti-amplification/1',
    spec: { file: 'transport.md', section: 'Anti-amplification' },
    requirement: "Until a peer's address is validated, Petrel sends at most three times the bytes it received from it",
    role: 'server',
    async run(ctx) {
      const p = await ctx.probe({ autoRespond: false });
      const out = p.session.pollOutput();
      if (!out) return fail('no ClientHello');
      p.send('initial', [{ type: 'crypto', offset: 0, data: out.data } as Frame]);
      // A client that never answers: the server's retransmissions must stay within 3× what it received.
      await p.waitAny(2500);
      await p.waitFor(() => false, 2500);
      if (p.bytesReceived === 0) return fail('no reply to a valid Initial');
      const ratio = p.bytesReceived / p.bytesSent;
      return ratio <= 3
        ? pass(`received ${p.bytesReceived} bytes for ${p.bytesSent} sent (${ratio.toFixed(2)}×) over 2.5 s of silence`)
        : fail(`received ${p.bytesReceived} bytes for ${p.bytesSent} sent (${ratio.toFixed(2)}×)`);
    },
  },
  {
    id: 'transport/immediate-close/1',
    spec: { file: 'transport.md', section: 'Immediate close' },
    requirement: 'a new CONNECTION_CLOSE is sent after the 1st, 2nd, 4th, 8th, … (every power of two) such packet',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [{ type: 'handshake_done' } as Frame]);
      const first = await p.waitClose();
      if (!first) return fail('no CONNECTION_CLOSE after a protocol violation');
      // At once: the closing state lasts only 3 × PTO, a few tens of ms on loopback.
      const mark = p.mark();
      for (let i = 0; i < 8; i++) {
        p.send('app', [{ type: 'ping' } as Frame]);
        await new Promise((r) => setTimeout(r, 4));
      }
      await p.waitAny(300);
      const closes = p.since(mark).filter((d) => d.packets.some((x) => x.frames?.some((f) => f.type === 'connection_close'))).length;
      const other = p
        .since(mark)
        .filter((d) => d.packets.some((x) => x.frames?.some((f) => f.type !== 'connection_close' && f.type !== 'padding'))).length;
      if (other > 0) return fail(`${other} datagram(s) with frames other than CONNECTION_CLOSE while closing`);
      if (closes === 4) return pass('8 packets while closing were answered by exactly 4 CONNECTION_CLOSE datagrams');
      if (closes >= 1 && closes < 4) return nonStrict(`8 packets while closing drew ${closes} CONNECTION_CLOSE (4 expected)`);
      return fail(`8 packets while closing drew ${closes} CONNECTION_CLOSE datagrams (4 expected)`);
    },
  },
  {
    id: 'transport/draining/1',
    spec: { file: 'transport.md', section: 'Draining' },
    requirement:
      'A CONNECTION_CLOSE from the peer (in handshake or established) enters draining: closed event with initiator peer, nothing is sent any more',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      // Let the server's post-handshake flight (HANDSHAKE_DONE, ids) and its ACKs arrive first.
      await p.waitFor(() => p.handshakeDone, 1000);
      await quiet(p, 100);
      p.send('app', [{ type: 'connection_close', application: false, errorCode: 0, frameType: 0, reason: new Uint8Array(0) } as Frame]);
      const mark = p.mark();
      for (let i = 0; i < 4; i++) p.send('app', [{ type: 'ping' } as Frame]);
      await p.waitAny(600);
      // A stateless reset (the server may forget the connection after 3 × PTO) is not a packet of the connection.
      const readable = p.since(mark).filter((d) => d.packets.some((x) => x.frames !== null));
      return readable.length === 0
        ? pass('nothing readable was sent after our CONNECTION_CLOSE')
        : fail(`${readable.length} datagram(s) of the connection after our CONNECTION_CLOSE`);
    },
  },
  {
    id: 'transport/stateless-reset/1',
    spec: { file: 'transport.md', section: 'Stateless reset' },
    requirement:
      'A short-header datagram whose destination id matches no connection and that is longer than STATELESS_RESET_MIN (41) bytes is answered with a reset',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      // Learn an id and its token, then end the connection so the server forgets it.
      p.send('app', [{ type: 'ping' } as Frame]);
      await p.waitFor(() => p.frames().some((f) => f.type === 'new_connection_id'), 1000);
      const ncid = frameOf(p.frames(), 'new_connection_id');
      if (!ncid) return fail('the server issued no NEW_CONNECTION_ID after the handshake');
      p.send('app', [{ type: 'connection_close', application: false, errorCode: 0, frameType: 0, reason: new Uint8Array(0) } as Frame]);
      await p.waitAny(1500);
      p.dcid = ncid.connectionId.slice();
      const mark = p.mark();
      const trigger = p.buildPacket('app', [{ type: 'ping' } as Frame], { padTo: 80, noAck: true });
      p.sendRaw(trigger, 'short header for a forgotten id');
      const got = await p.waitFor(() => p.datagrams.length > mark, 1000);
      if (!got) return unsupported('no stateless reset for a forgotten connection id (the endpoint may have no reset key)');
      const r = p.datagrams[mark]!.bytes;
      if (r.length >= trigger.length) return fail(`reset of ${r.length} bytes is not smaller than its ${trigger.length}-byte trigger`);
      if (r.length < 41) return fail(`reset of ${r.length} bytes is below the 41-byte minimum`);
      if ((r[0]! & 0xc0) !== 0x40) return fail(`reset first byte 0x${r[0]!.toString(16)} is not 01xxxxxx`);
      const token = r.subarray(r.length - 20, r.length - 4);
      if (!token.every((b, i) => b === ncid.resetToken[i])) return fail('reset token differs from the one issued with the id');
      return pass(`${r.length}-byte reset for an ${trigger.length}-byte trigger, token matches NEW_CONNECTION_ID`);
    },
  },
  {
    id: 'transport/answering-a-peer-s-path-challenge/1',
    spec: { file: 'transport.md', section: "Answering a peer's PATH_CHALLENGE" },
    requirement: 'A PATH_CHALLENGE is answered with a PATH_RESPONSE carrying the same data',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      const data = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
      p.send('app', [{ type: 'path_challenge', data } as Frame]);
      const ok = await p.waitFor(() => p.frames().some((f) => f.type === 'path_response'), 1500);
      if (!ok) return fail('no PATH_RESPONSE');
      const r = frameOf(p.frames(), 'path_response')!;
      return r.data.every((b, i) => b === data[i]) ? pass('PATH_RESPONSE echoes the challenge data') : fail('PATH_RESPONSE carries other data');
    },
  },
  {
    id: 'transport/after-confirmation/1',
    spec: { file: 'transport.md', section: 'Path validation' },
    requirement: 'a PATH_RESPONSE echoing the current challenge data (from any address) validates the path',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [{ type: 'ping' } as Frame]);
      await p.waitAny(200);
      await p.rebind();
      const mark = p.mark();
      p.send('app', [{ type: 'ping' } as Frame]);
      const ok = await p.waitFor(() => p.since(mark).some((d) => d.packets.some((x) => x.frames?.some((f) => f.type === 'path_challenge'))), 2000);
      if (!ok) return fail('no PATH_CHALLENGE to the new address after a rebinding');
      const ch = p
        .since(mark)
        .flatMap((d) => d.packets.flatMap((x) => x.frames ?? []))
        .find((f) => f.type === 'path_challenge') as Extract<Frame, { type: 'path_challenge' }>;
      p.send('app', [{ type: 'path_response', data: ch.data } as Frame]);
      // After validation the server keeps talking to us on the new path.
      const m2 = p.mark();
      p.send('app', [{ type: 'ping' } as Frame]);
      const acked = await p.waitFor(() => p.since(m2).some((d) => d.packets.some((x) => x.frames?.some((f) => f.type === 'ack'))), 1500);
      return acked
        ? pass('PATH_CHALLENGE sent to the new address, path used after our PATH_RESPONSE')
        : fail('no ACK on the new path after validation');
    },
  },
  {
    id: 'transport/connection-ids/1',
    spec: { file: 'transport.md', section: 'Connection ids' },
    requirement: 'If more than MAX_ACTIVE_CIDS (4) ids are then active, CONNECTION_ID_LIMIT_ERROR.',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      const frames: Frame[] = [];
      for (let s = 1; s <= 4; s++) {
        frames.push({
          type: 'new_connection_id',
          sequence: s,
          retirePriorTo: 0,
          connectionId: bytes(8, 0x10 + s),
          resetToken: bytes(16, 0x20 + s),
        } as Frame);
      }
      p.send('app', frames);
      return expectClose(p, Code.CONNECTION_ID_LIMIT_ERROR, 'five active connection ids');
    },
  },
  {
    id: 'transport/connection-ids/2',
    spec: { file: 'transport.md', section: 'Connection ids' },
    requirement: 'a sequence number never issued is a PROTOCOL_VIOLATION',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [{ type: 'retire_connection_id', sequence: 1000 } as Frame]);
      return expectClose(p, Code.PROTOCOL_VIOLATION, 'RETIRE_CONNECTION_ID 1000');
    },
  },
  {
    id: 'transport/connection-ids/3',
    spec: { file: 'transport.md', section: 'Connection ids' },
    requirement: 'a repeated sequence number with a different id or token is a PROTOCOL_VIOLATION',
    role: 'server',
    async run(ctx) {
      const p = await ctx.connected();
      p.send('app', [
        { type: 'new_connection_id', sequence: 1, retirePriorTo: 0, connectionId: bytes(8, 0x31), resetToken: bytes(16, 0x41) } as Frame,
      ]);
      p.send('app', [
        { type: 'new_connection_id', sequence: 1, retirePriorTo: 0, connectionId: bytes(8, 0x32), resetToken: bytes(16, 0x41) } as Frame,
      ]);
      return expectClose(p, Code.PROTOCOL_VIOLATION, 'NEW_CONNECTION_ID 1 twice with different ids');
    },
  },
  {
    id: 'transport/key-update/1',
    spec: { file: 'transport.md', section: 'Key update' },
    requirement: 'When the peer started the update, our write key moves to the same generation at once',
    role: 'server',
    async run(ctx) {
      if (ctx.insecure) return unsupported('insecure connections never update keys');
      const p = await ctx.connected();
      p.send('app', [{ type: 'ping' } as Frame]);
      await p.waitFor(() => p.datagrams.some((d) => d.packets.some((x) => x.space === 'app' && x.frames?.some((f) => f.type === 'ack'))), 1000);
      if (!p.keyUpdate()) return unsupported('the session offers no next key generation');
      const mark = p.mark();
      p.send('app', [{ type: 'ping' } as Frame]);
      const ok = await p.waitFor(
        () => p.since(mark).some((d) => d.packets.some((x) => x.space === 'app' && x.frames !== null && x.keyPhase === true)),
        1500,
      );
      if (!ok) return fail('no packet in the new key phase after our key update');
      return pass("the server answered in key phase 1 with the next generation's keys");
    },
  },
  {
    id: 'transport/key-update/2',
    spec: { file: 'transport.md', section: 'Key update' },
    requirement: 'If it fails authentication it is dropped (`auth_failed`) and nothing changes.',
    role: 'server',
    async run(ctx) {
      if (ctx.insecure) return unsupported('insecure connections never update keys');
      const p = await ctx.connected();
      // A packet in the other key phase, sealed with the current key: it cannot open with the next one.
      p.keyPhase = !p.keyPhase;
      p.send('app', [{ type: 'ping' } as Frame]);
      p.keyPhase = !p.keyPhase;
      const mark = p.mark();
      p.send('app', [{ type: 'ping' } as Frame]);
      const answered = await p.waitFor(() => p.since(mark).some((d) => d.packets.some((x) => x.space === 'app' && x.frames !== null)), 1500);
      if (p.peerClose) return fail(`closed with 0x${p.peerClose.errorCode.toString(16)} after a forged phase change`);
      if (!answered) return fail('no answer in the current phase after a packet that failed authentication');
      if (p.since(mark).some((d) => d.packets.some((x) => x.space === 'app' && x.keyPhase === true))) {
        return fail('the server changed key phase on a packet that did not authenticate');
      }
      // Nothing changed: a genuine update afterwards still works.
      if (!p.keyUpdate()) return unsupported('the session offers no next key generation');
      const mark2 = p.mark();
      p.send('app', [{ type: 'ping' } as Frame]);
      const moved = await p.waitFor(
        () => p.since(mark2).some((d) => d.packets.some((x) => x.space === 'app' && x.frames !== null && x.keyPhase === true)),
        1500,
      );
      return moved
        ? pass('the forged phase change was dropped, the server stayed in phase 0, and a real update afterwards moved it to phase 1')
        : fail('a real key update after the dropped packet was not followed');
    },
  },
  {
    id: 'transport/transport-parameters/1',
    spec: { file: 'transport.md', section: 'Transport parameters' },
    requirement: "initial_source_connection_id is present and equals the Source Connection ID of the peer's first packet",
    role: 'server',
    async run(ctx) {
      const p = await ctx.probe({ params: { initialSourceConnectionId: bytes(8, 0x99) } });
      return expectHandshakeClose(p, Code.TRANSPORT_PARAMETER_ERROR, 'initial_source_connection_id differing from our SCID');
    },
  },
  {
    id: 'transport/transport-parameters/2',
    spec: { file: 'transport.md', section: 'Transport parameters' },
    requirement: 'a server-only parameter from a client',
    role: 'server',
    async run(ctx) {
      // original_destination_connection_id (id 0, 8 bytes) appended to our parameters.
      const extra = Uint8Array.of(0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8);
      const p = await ctx.probe({
        rawParams: (tp) => {
          const out = new Uint8Array(tp.length + extra.length);
          out.set(tp);
          out.set(extra, tp.length);
          return out;
        },
      });
      return expectHandshakeClose(p, Code.TRANSPORT_PARAMETER_ERROR, 'original_destination_connection_id from a client');
    },
  },
  {
    id: 'transport/address-validation/1',
    spec: { file: 'transport.md', section: 'Address validation' },
    requirement:
      "The server's transport parameters must then carry retry_source_connection_id equal to the Retry's SCID and original_destination_connection_id equal to the client's first DCID",
    role: 'server',
    async run(ctx) {
      const p = await ctx.probe();
      const ok = await p.handshake(3000);
      const retryDatagram = p.datagrams.find((d) => d.packets.some((x) => x.space === 'retry'));
      if (!p.retry || !retryDatagram) {
        return ok ? unsupported('the server sent no Retry (it may ask for one only under load)') : fail('no Retry and no handshake');
      }
      if (!p.retry.tagOk) return fail('the Retry integrity tag does not verify');
      if (retryDatagram.bytes.length > 1200) return fail(`a ${retryDatagram.bytes.length}-byte Retry for a 1200-byte Initial`);
      if (!ok) return fail(`the handshake after the Retry did not complete${p.peerClose ? ` (closed 0x${p.peerClose.errorCode.toString(16)})` : ''}`);
      const tp = p.peerParams!;
      const eq = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
      if (!eq(tp.retrySourceConnectionId, p.retry.scid)) return fail("retry_source_connection_id differs from the Retry's SCID");
      if (!eq(tp.originalDestinationConnectionId, p.originalDcid)) return fail('original_destination_connection_id differs from our first DCID');
      return pass(`followed a ${retryDatagram.bytes.length}-byte Retry; both connection-id parameters match`);
    },
  },
];
