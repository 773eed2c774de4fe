import { describe, expect, it } from 'vitest';
import { LayerPair, pattern } from './layer-pair.js';
import { sha } from '../api/helpers.js';
import { PetrelError, TransportErrorCode } from '../../lib/errors.js';
import { ByteWriter } from '../../lib/wire/buffer.js';
import { encodeChannelDeclaration, type ChannelMode } from '../../lib/wire/channel.js';
import type { Connection } from '../../lib/connection/connection.js';
import { ChannelLayer } from '../../lib/channel/channel-layer.js';

function connectedPair(opts: ConstructorParameters<typeof LayerPair>[0] = {}): LayerPair {
  const p = new LayerPair(opts);
  expect(p.run(() => p.connected())).toBe(true);
  return p;
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Replaces conn.sendDatagram so that `skip(callIndex, bytes)` can withhold chosen datagrams (loss before the wire). */
function interceptDatagrams(conn: Connection, skip: (call: number, bytes: Uint8Array) => boolean): { calls: number } {
  const state = { calls: 0 };
  const orig = conn.sendDatagram.bind(conn);
  conn.sendDatagram = (data: Uint8Array) => {
    const i = state.calls++;
    if (skip(i, data)) return -1;
    return orig(data);
  };
  return state;
}

function closeInfo(events: LayerPair['clientEvents']) {
  const e = events.find((x) => x.type === 'closed');
  return e && e.type === 'closed' ? e.info : null;
}

describe('ChannelLayer: per-connection state', () => {
  it('layers resolved with equal options share one options object; other options get their own, and are honoured', () => {
    const p = connectedPair();
    const optsOf = (l: ChannelLayer) => (l as unknown as { opts: { reassemblyTimeout: number } }).opts;
    const a = new ChannelLayer(p.clientConn, { reassemblyTimeout: 500 });
    const b = new ChannelLayer(p.clientConn, { reassemblyTimeout: 500, reassemblyMaxBytes: undefined });
    const c = new ChannelLayer(p.clientConn, { reassemblyTimeout: 700 });
    expect(optsOf(b)).toBe(optsOf(a));
    expect(optsOf(c)).not.toBe(optsOf(a));
    expect(optsOf(a).reassemblyTimeout).toBe(500);
    expect(optsOf(c).reassemblyTimeout).toBe(700);
    // Drop counters exist from the first drop: none before.
    expect(a.stats().messagesDropped).toEqual({});
    expect(a.stats().datagramsDropped).toEqual({});
  });
});

describe('ChannelLayer: raw streams and datagrams', () => {
  it('writes the raw preamble on open and strips it on receipt', () => {
    const p = connectedPair();
    expect(p.clientLayer.negotiated).toBe(true);
    const id = p.clientLayer.openStream(true)!;
    p.clientConn.streamWrite(id, new TextEncoder().encode('hello'), true);
    // 5 application bytes plus the 1-byte raw preamble sit in the send buffer.
    expect(p.clientConn.streamBufferedBytes(id)).toBe(6);
    const got: Uint8Array[] = [];
    let finished = false;
    const ok = p.run(
      () => finished,
      10_000,
      () => {
        for (const e of p.serverEvents.splice(0)) {
          if (e.type === 'stream_readable') {
            for (let d = p.serverLayer!.streamRead(e.streamId); d; d = p.serverLayer!.streamRead(e.streamId)) got.push(d.slice());
            if (p.serverConn!.streamFinished(e.streamId)) finished = true;
          }
          if (e.type === 'stream_opened') expect(e.streamId).toBe(id);
        }
      },
    );
    expect(ok).toBe(true);
    expect(new TextDecoder().decode(Buffer.concat(got))).toBe('hello');
  });

  it('announces a raw peer stream only after its preamble, then readable', () => {
    const p = connectedPair();
    const id = p.clientLayer.openStream(false)!;
    p.clientConn.streamWrite(id, new Uint8Array([9, 8, 7]), true);
    expect(p.run(() => p.serverEvents.some((e) => e.type === 'stream_readable'))).toBe(true);
    const kinds = p.serverEvents.filter((e) => e.type.startsWith('stream_')).map((e) => e.type);
    expect(kinds.slice(0, 2)).toEqual(['stream_opened', 'stream_readable']);
    expect(Array.from(p.serverLayer!.streamRead(id)!)).toEqual([9, 8, 7]);
  });

  it('prefixes raw datagrams with kind 0x00 and delivers only the payload', () => {
    const p = connectedPair();
    expect(p.clientLayer.maxDatagramPayload()).toBe(p.clientConn.maxDatagramPayload() - 1);
    p.clientLayer.sendDatagram(new Uint8Array([1, 2, 3]));
    expect(p.run(() => p.serverEvents.some((e) => e.type === 'datagram'))).toBe(true);
    const d = p.serverEvents.find((e) => e.type === 'datagram');
    expect(d && d.type === 'datagram' && Array.from(d.data)).toEqual([1, 2, 3]);
    const max = p.clientLayer.maxDatagramPayload();
    expect(() => p.clientLayer.sendDatagram(new Uint8Array(max + 1))).toThrow(expect.objectContaining({ code: 'DATAGRAM_TOO_LARGE' }));
  });

  it('passes streams and datagrams through untouched when channels are not negotiated', () => {
    const p = connectedPair({ server: { channels: false } });
    expect(p.clientLayer.negotiated).toBe(false);
    expect(() => p.clientLayer.channel('x', 'unreliable')).toThrow(expect.objectContaining({ code: 'CHANNELS_UNAVAILABLE' }));
    expect(p.clientLayer.maxDatagramPayload()).toBe(p.clientConn.maxDatagramPayload());
    const id = p.clientLayer.openStream(true)!;
    p.clientConn.streamWrite(id, new Uint8Array([0, 1, 2]), true);
    expect(p.clientConn.streamBufferedBytes(id)).toBe(3);
    p.clientLayer.sendDatagram(new Uint8Array([0, 42]));
    expect(p.run(() => p.serverEvents.some((e) => e.type === 'datagram') && p.serverEvents.some((e) => e.type === 'stream_readable'))).toBe(true);
    const d = p.serverEvents.find((e) => e.type === 'datagram');
    expect(d && d.type === 'datagram' && Array.from(d.data)).toEqual([0, 42]);
    expect(Array.from(p.serverLayer!.streamRead(id)!)).toEqual([0, 1, 2]);
  });
});

describe('ChannelLayer: the four modes end to end', () => {
  const modes: ChannelMode[] = ['reliable-ordered', 'reliable-unordered', 'unreliable', 'unreliable-sequenced'];
  for (const mode of modes) {
    it(`${mode}: 1 byte, exactly one datagram, one byte more, and 200 KB arrive intact`, () => {
      // PMTUD off: the fragment counts below are computed for one fixed datagram size.
      const p = connectedPair({ client: { pmtud: false }, server: { pmtud: false } });
      const ch = p.clientLayer.channel('lane', mode);
      expect(ch).toBe(0);
      // Unfragmented channel datagram header: kind (1) + channel id 0 (1) [+ sequence < 64 (1)].
      const header = mode === 'unreliable-sequenced' ? 3 : 2;
      const oneDatagram = p.clientConn.maxDatagramPayload() - header;
      const sizes = [1, oneDatagram, oneDatagram + 1, 200_000];
      const msgs = sizes.map((n, i) => pattern(n, i + 1));
      // Let the DECLARE be acknowledged first so unreliable sends go straight out (fragment counts below).
      expect(p.run(() => p.clientLayer.stats().heldMessages === 0 && p.clientConn.streamBufferedBytes(0 + 2) === 0)).toBe(true);
      for (const m of msgs) {
        p.clientLayer.send(ch, m);
        // Sequenced channels keep only the newest: give each message time to arrive before the next.
        if (mode === 'unreliable-sequenced') p.run(() => p.messages('server').length === msgs.indexOf(m) + 1, 20_000);
      }
      expect(p.run(() => p.messages('server', 'lane').length === msgs.length, 60_000)).toBe(true);
      const got = p.messages('server', 'lane');
      const expectHashes = msgs.map(sha);
      if (mode === 'reliable-unordered' || mode === 'unreliable') expect(got.map(sha).sort()).toEqual([...expectHashes].sort());
      else expect(got.map(sha)).toEqual(expectHashes);
      const st = p.clientLayer.stats();
      expect(st.messagesSent).toBe(4);
      expect(p.serverLayer!.stats().messagesReceived).toBe(4);
      if (mode.startsWith('unreliable')) {
        // 0 fragments for the first two; 2 for one byte over; ceil(200000 / per-fragment room) for 200 KB.
        const room = p.clientConn.maxDatagramPayload() - (header + 1 + 2 * 2); // + message id (1) + index, count (2 each)
        const big = Math.ceil(200_000 / room);
        expect(st.fragmentsSent).toBe(2 + big);
        expect(p.serverLayer!.stats().fragmentsReceived).toBe(2 + big);
        expect(p.serverLayer!.stats().reassemblyBytes).toBe(0);
      }
      const ev = p.serverEvents.find((e) => e.type === 'message');
      expect(ev && ev.type === 'message' && ev.mode).toBe(mode);
    });
  }

  it('reliable-ordered keeps order across 500 messages of mixed sizes', () => {
    const p = connectedPair();
    const ch = p.clientLayer.channel('chat', 'reliable-ordered');
    const msgs = Array.from({ length: 500 }, (_, i) => pattern((i * 37) % 3000, i));
    for (const m of msgs) p.clientLayer.send(ch, m);
    expect(p.run(() => p.messages('server', 'chat').length === 500)).toBe(true);
    expect(p.messages('server', 'chat').map(sha)).toEqual(msgs.map(sha));
  });

  it('channels work in both directions with independent id spaces', () => {
    const p = connectedPair();
    const a = p.clientLayer.channel('a', 'reliable-ordered');
    p.clientLayer.send(a, new Uint8Array([1]));
    expect(p.run(() => p.messages('server').length === 1)).toBe(true);
    const b = p.serverLayer!.channel('b', 'unreliable');
    const a2 = p.serverLayer!.channel('a', 'reliable-ordered');
    expect([b, a2]).toEqual([0, 1]);
    p.serverLayer!.send(a2, new Uint8Array([2]));
    p.serverLayer!.send(b, new Uint8Array([3]));
    expect(p.run(() => p.messages('client').length === 2)).toBe(true);
    const evs = p.clientEvents.filter((e) => e.type === 'message');
    expect(evs.map((e) => (e.type === 'message' ? `${e.channel}:${e.data[0]}` : '')).sort()).toEqual(['a:2', 'b:3']);
    expect(p.clientLayer.channel('a', 'reliable-ordered')).toBe(a);
    expect(() => p.clientLayer.channel('a', 'unreliable')).toThrow(expect.objectContaining({ code: 'CHANNEL_MODE_MISMATCH' }));
  });

  it('reliable-unordered batches messages when the peer stream limit is reached, and delivers all', () => {
    const p = connectedPair({ server: { maxStreamsUni: 3 } });
    let opened = 0;
    const open = p.clientConn.openStream.bind(p.clientConn);
    p.clientConn.openStream = (bidi?: boolean) => {
      const id = open(bidi);
      if (id !== null) opened++;
      return id;
    };
    const ch = p.clientLayer.channel('events', 'reliable-unordered');
    const msgs = Array.from({ length: 40 }, (_, i) => pattern(10 + i, i));
    for (const m of msgs) p.clientLayer.send(ch, m);
    // The control stream and 2 message streams fit the limit of 3; the other 38 messages wait.
    expect(opened).toBe(3);
    expect(p.run(() => p.messages('server', 'events').length === 40)).toBe(true);
    expect(p.messages('server', 'events').map(sha).sort()).toEqual(msgs.map(sha).sort());
    // The waiting messages were batched: far fewer streams than messages.
    expect(opened).toBeLessThan(10);
    // Channel streams are internal: the application saw no stream events.
    expect(p.serverEvents.filter((e) => e.type === 'stream_opened')).toEqual([]);
  });

  it('holds unreliable messages until the declaration is acknowledged, then sends them', () => {
    const p = connectedPair();
    const ch = p.clientLayer.channel('pos', 'unreliable');
    p.clientLayer.send(ch, new Uint8Array([1]));
    p.clientLayer.send(ch, new Uint8Array([2]));
    expect(p.clientLayer.stats().heldMessages).toBe(2);
    expect(p.run(() => p.messages('server', 'pos').length === 2)).toBe(true);
    expect(p.messages('server', 'pos').map((m) => m[0])).toEqual([1, 2]);
    expect(p.clientLayer.stats().heldMessages).toBe(0);
    expect(p.serverLayer!.stats().datagramsDropped).toEqual({});
  });
});

describe('ChannelLayer: unreliable delivery rules', () => {
  it('a lost fragment drops the whole message; it is counted when reassembly times out', () => {
    const p = connectedPair({ serverLayer: { reassemblyTimeout: 500 } });
    const ch = p.clientLayer.channel('snap', 'unreliable');
    expect(p.run(() => p.clientConn.streamBufferedBytes(2) === 0)).toBe(true);
    const msg = pattern(5000, 3);
    // Fragment room: payload minus kind, channel id, message id (1 byte each) and index, count (2 each).
    const count = Math.ceil(5000 / (p.clientConn.maxDatagramPayload() - 7));
    expect(count).toBeGreaterThan(2);
    // Withhold the second datagram of the message (fragment 1).
    interceptDatagrams(p.clientConn, (i) => i === 1);
    p.clientLayer.send(ch, msg);
    expect(p.run(() => p.serverLayer!.stats().fragmentsReceived === count - 1)).toBe(true);
    expect(p.serverLayer!.stats().reassemblyMessages).toBe(1);
    expect(p.serverLayer!.stats().reassemblyBytes).toBeGreaterThan(0);
    const t0 = p.now;
    expect(p.run(() => p.serverLayer!.stats().messagesDropped.reassembly_timeout === 1)).toBe(true);
    expect(p.now - t0).toBeGreaterThanOrEqual(480);
    expect(p.messages('server', 'snap')).toEqual([]);
    expect(p.serverLayer!.stats().reassemblyBytes).toBe(0);
    // The next message goes through whole.
    p.clientLayer.send(ch, msg);
    expect(p.run(() => p.messages('server', 'snap').length === 1)).toBe(true);
    expect(sha(p.messages('server', 'snap')[0]!)).toBe(sha(msg));
  });

  it('sequenced: a message overtaken by a newer one is dropped as stale and counted', () => {
    const p = connectedPair();
    const ch = p.clientLayer.channel('state', 'unreliable-sequenced');
    expect(p.run(() => p.clientConn.streamBufferedBytes(2) === 0)).toBe(true);
    const marks = [0xa1, 0xb2, 0xc3].map((m) => new Uint8Array([m, m, m, m, m, m, m, m]));
    // The datagram carrying B is delayed by 100 ms: C overtakes it.
    p.delay = (dir, data) => (dir === 'c2s' && contains(data, marks[1]!) ? 100 : 0);
    for (const m of marks) {
      p.clientLayer.send(ch, m);
      p.run(() => false, p.now + 2); // each in its own packet
    }
    expect(p.run(() => p.serverLayer!.stats().datagramsDropped.stale === 1)).toBe(true);
    expect(p.messages('server', 'state').map((m) => m[0])).toEqual([0xa1, 0xc3]);
    // On a plain unreliable channel the same reordering delivers all three.
    const u = p.clientLayer.channel('plain', 'unreliable');
    expect(p.run(() => p.clientConn.streamBufferedBytes(2) === 0)).toBe(true);
    for (const m of marks) {
      p.clientLayer.send(u, m);
      p.run(() => false, p.now + 2);
    }
    expect(p.run(() => p.messages('server', 'plain').length === 3)).toBe(true);
    expect(p.messages('server', 'plain').map((m) => m[0])).toEqual([0xa1, 0xc3, 0xb2]);
  });

  it('bounds reassembly by messages and bytes, evicting the oldest partial message', () => {
    const p = connectedPair({ serverLayer: { reassemblyMaxMessages: 2, reassemblyMaxBytes: 10_000, reassemblyTimeout: 1000 } });
    const ch = p.clientLayer.channel('bulk', 'unreliable');
    expect(p.run(() => p.clientConn.streamBufferedBytes(2) === 0)).toBe(true);
    // Fragment 0 of every message is withheld (kind 0x05, channel 0, message id, index 0), so none completes.
    interceptDatagrams(p.clientConn, (_i, bytes) => bytes[0] === 0x05 && bytes[3] === 0x00);
    for (let i = 0; i < 3; i++) p.clientLayer.send(ch, pattern(3000, i));
    const frags = () => p.serverLayer!.stats().fragmentsReceived;
    expect(p.run(() => frags() === 3 * 2)).toBe(true); // 3 fragments each, fragment 0 withheld
    let st = p.serverLayer!.stats();
    expect(st.reassemblyMessages).toBe(2);
    expect(st.messagesDropped.reassembly_evicted).toBe(1);
    expect(st.reassemblyBytes).toBe(4000);
    // 9,500 bytes minus its first fragment (> 6,000) next to a 2,000-byte partial exceeds 10,000 bytes:
    // the message bound evicts one older partial, the byte bound the other.
    p.clientLayer.send(ch, pattern(9500, 9));
    expect(p.run(() => frags() > 6 && p.serverLayer!.stats().reassemblyMessages === 1 && p.clientConn.stats().bytesInFlight === 0)).toBe(true);
    st = p.serverLayer!.stats();
    expect(st.messagesDropped.reassembly_evicted).toBe(3);
    expect(st.reassemblyBytes).toBeGreaterThan(6000);
    expect(st.reassemblyBytes).toBeLessThanOrEqual(10_000);
    // Then the last partial expires.
    expect(p.run(() => p.serverLayer!.stats().reassemblyMessages === 0)).toBe(true);
    st = p.serverLayer!.stats();
    expect(st.reassemblyBytes).toBe(0);
    expect(st.messagesDropped.reassembly_timeout).toBe(1);
    // A message larger than the whole budget is dropped as oversize; its later fragments are counted, not re-buffered.
    p.clientLayer.send(ch, pattern(30_000, 10));
    expect(p.run(() => p.serverLayer!.stats().messagesDropped.oversize === 1 && p.clientConn.stats().bytesInFlight === 0)).toBe(true);
    st = p.serverLayer!.stats();
    expect(st.reassemblyMessages).toBe(0);
    expect(st.datagramsDropped.fragment_of_dropped).toBeGreaterThan(0);
    expect(p.messages('server', 'bulk')).toEqual([]);
  });

  it('drops undeclared, malformed and mode-mismatched datagrams and counts them', () => {
    const p = connectedPair();
    const ch = p.clientLayer.channel('r', 'reliable-ordered');
    p.clientLayer.send(ch, new Uint8Array([1]));
    expect(p.run(() => p.messages('server').length === 1)).toBe(true);
    p.clientConn.sendDatagram(new Uint8Array([0x01, 0x05, 0xaa])); // channel 5: never declared
    p.clientConn.sendDatagram(new Uint8Array([0x08, 0x00])); // reserved kind bit
    p.clientConn.sendDatagram(new Uint8Array([0x01, 0x00, 0xaa])); // datagram on a reliable channel
    expect(p.run(() => Object.values(p.serverLayer!.stats().datagramsDropped).reduce((a, b) => a + b, 0) === 3)).toBe(true);
    expect(p.serverLayer!.stats().datagramsDropped).toEqual({ undeclared_channel: 1, malformed: 1, mode_mismatch: 1 });
    expect(p.serverConn!.state).toBe('established');
  });
});

describe('ChannelLayer: declarations and malformed channel streams', () => {
  function declaration(channelId: number, mode: ChannelMode, name: string): Uint8Array {
    const w = new ByteWriter(new Uint8Array(300));
    encodeChannelDeclaration(w, { channelId, mode, name });
    return w.buf.slice(0, w.pos);
  }

  it('holds a channel stream that arrives before its DECLARE, then delivers', () => {
    const p = connectedPair();
    const c = p.clientConn;
    const s = c.openStream(false)!;
    c.streamWrite(s, new Uint8Array([0x01, 0x00, 0x02, 0x68, 0x69])); // ordered, channel 0, message "hi"
    expect(p.run(() => p.serverConn!.streamStats(s)?.recvBuffered === 3)).toBe(true); // preamble (2 bytes) read, message held
    expect(p.messages('server')).toEqual([]);
    const ctl = c.openStream(false)!;
    c.streamWrite(ctl, new Uint8Array([0x03]));
    c.streamWrite(ctl, declaration(0, 'reliable-ordered', 'late'));
    expect(p.run(() => p.messages('server', 'late').length === 1)).toBe(true);
    expect(new TextDecoder().decode(p.messages('server', 'late')[0])).toBe('hi');
  });

  const bad: Array<[string, (c: Connection) => void]> = [
    ['an unknown stream kind', (c) => c.streamWrite(c.openStream(false)!, new Uint8Array([0x07]))],
    ['a control preamble on a bidirectional stream', (c) => c.streamWrite(c.openStream(true)!, new Uint8Array([0x03]))],
    [
      'one name declared under two ids',
      (c) => {
        const s = c.openStream(false)!;
        c.streamWrite(s, new Uint8Array([0x03]));
        c.streamWrite(s, declaration(0, 'unreliable', 'n'));
        c.streamWrite(s, declaration(1, 'unreliable', 'n'));
      },
    ],
    [
      'an id redeclared with another mode',
      (c) => {
        const s = c.openStream(false)!;
        c.streamWrite(s, new Uint8Array([0x03]));
        c.streamWrite(s, declaration(0, 'unreliable', 'n'));
        c.streamWrite(s, declaration(0, 'reliable-ordered', 'n'));
      },
    ],
    [
      'a second control stream',
      (c) => {
        c.streamWrite(c.openStream(false)!, new Uint8Array([0x03]));
        c.streamWrite(c.openStream(false)!, new Uint8Array([0x03]));
      },
    ],
    [
      'an unordered stream for an ordered channel',
      (c) => {
        const s = c.openStream(false)!;
        c.streamWrite(s, new Uint8Array([0x03]));
        c.streamWrite(s, declaration(0, 'reliable-ordered', 'o'));
        c.streamWrite(c.openStream(false)!, new Uint8Array([0x02, 0x00, 0x00]), true);
      },
    ],
    [
      'a message longer than the receiver limit',
      (c) => {
        const s = c.openStream(false)!;
        c.streamWrite(s, new Uint8Array([0x03]));
        c.streamWrite(s, declaration(0, 'reliable-ordered', 'o'));
        c.streamWrite(c.openStream(false)!, new Uint8Array([0x01, 0x00, 0x80, 0x20, 0x00, 0x00])); // length 2 MiB
      },
    ],
    [
      'a stream that ends inside a message',
      (c) => {
        const s = c.openStream(false)!;
        c.streamWrite(s, new Uint8Array([0x03]));
        c.streamWrite(s, declaration(0, 'reliable-unordered', 'u'));
        c.streamWrite(c.openStream(false)!, new Uint8Array([0x02, 0x00, 0x05, 0x01]), true);
      },
    ],
  ];
  for (const [what, act] of bad) {
    it(`closes the connection with CHANNEL_ENCODING_ERROR on ${what}`, () => {
      const p = connectedPair();
      act(p.clientConn);
      expect(p.run(() => closeInfo(p.clientEvents) !== null)).toBe(true);
      const info = closeInfo(p.clientEvents)!;
      expect(info.errorCode).toBe(TransportErrorCode.CHANNEL_ENCODING_ERROR);
      expect(info.application).toBe(false);
      expect(info.initiator).toBe('peer');
      expect(closeInfo(p.serverEvents)!.initiator).toBe('local');
    });
  }

  it('rejects sends on unknown channels and after close with typed errors', () => {
    const p = connectedPair();
    expect(() => p.clientLayer.send(3, new Uint8Array(1))).toThrow(PetrelError);
    expect(() => p.clientLayer.send(3, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'UNKNOWN_CHANNEL' }));
    const ch = p.clientLayer.channel('x', 'reliable-ordered');
    expect(() => p.clientLayer.send(ch, new Uint8Array(2 * 1024 * 1024))).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }));
    expect(() => p.clientLayer.channel('', 'reliable-ordered')).toThrow(expect.objectContaining({ code: 'INVALID_CHANNEL' }));
    p.clientConn.close(0, 'bye');
    expect(() => p.clientLayer.send(ch, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'CONNECTION_CLOSED' }));
  });
});
