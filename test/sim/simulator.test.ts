import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PetrelError } from '../../lib/errors.js';
import { Simulator } from '../../lib/sim/simulator.js';
import type { SimAddress, SimNode } from '../../lib/sim/types.js';
import { A, B, Receiver, Sender, numbered } from './toy-nodes.js';

const C: SimAddress = { host: '10.0.0.3', port: 3000 };
const NAT: SimAddress = { host: '198.51.100.7', port: 40000 };

/** A busy, impaired ping-pong exercising every impairment; returns the whole trace as one string. */
function scenario(seed: number): string {
  const records: string[] = [];
  const sim = new Simulator({ seed, trace: records });
  const sender = new Sender(B, 400, 2, 300);
  // the sender also logs its own event for each reply, as an endpoint would
  const handle = sender.handleDatagram.bind(sender);
  sender.handleDatagram = (data, from, now) => {
    handle(data, from, now);
    if (sim.traceEnabled) sim.trace('app:reply', { seq: sender.replies.length });
  };
  sim.addNode(A, sender);
  sim.addNode(B, new Receiver(true));
  sim.link(A, B, {
    ab: { delay: 20, jitter: 8, loss: 0.05, duplicate: 0.05, corrupt: 0.05, corruptBits: 4, rate: 1_000_000, queueBytes: 3000 },
    ba: { delay: 25, jitter: 3, jitterDistribution: 'normal', burst: { p: 0.02, r: 0.3 }, reorder: 0.05, reorderDelay: 7 },
  });
  sim.outage(A, B, 300, 340);
  sim.rebind(A, NAT, 500);
  sim.run({ maxTime: 10_000 });
  return records.join('');
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('determinism and trace', () => {
  it('the same seed gives a byte-identical trace, another seed a different one', () => {
    const a = scenario(7);
    const b = scenario(7);
    const c = scenario(8);
    expect(a.length).toBeGreaterThan(10_000);
    expect(sha256(a)).toBe(sha256(b));
    expect(a === b).toBe(true);
    expect(sha256(c)).not.toBe(sha256(a));
  });

  it('writes JSON-SEQ: a qlog header, then time-ordered events of every kind', () => {
    const text = scenario(7);
    const records = text.split('\x1e').slice(1);
    expect(text.startsWith('\x1e')).toBe(true);
    for (const r of records) expect(r.endsWith('\n')).toBe(true);
    const [header, ...events] = records.map((r) => JSON.parse(r) as Record<string, unknown>);
    expect(header).toMatchObject({ qlog_format: 'JSON-SEQ', trace: { configuration: { seed: 7 } } });
    let last = 0;
    const names = new Set<string>();
    const reasons = new Set<string>();
    for (const e of events) {
      const time = e.time as number;
      expect(time).toBeGreaterThanOrEqual(last);
      last = time;
      names.add(e.name as string);
      const data = e.data as Record<string, unknown>;
      if (e.name === 'sim:datagram_dropped') reasons.add(data.reason as string);
      if (e.name === 'sim:datagram_sent') {
        expect(data).toMatchObject({ size: expect.any(Number) });
        expect(data.fingerprint).toMatch(/^[0-9a-f]{8}$/);
      }
    }
    for (const n of [
      'sim:datagram_sent',
      'sim:datagram_delivered',
      'sim:datagram_dropped',
      'sim:datagram_duplicated',
      'sim:datagram_corrupted',
      'sim:link_updated',
      'sim:address_rebound',
      'app:reply',
    ]) {
      expect(names).toContain(n);
    }
    // noroute: echoes of pre-rebinding datagrams still addressed to the old public address
    expect([...reasons].sort()).toEqual(['burst', 'down', 'loss', 'noroute', 'queue']);
  });

  it('the null sink builds nothing; array and callback sinks receive the same records', () => {
    let serialized = 0;
    const data = {
      toJSON() {
        serialized++;
        return { x: 1 };
      },
    };
    const quiet = new Simulator();
    expect(quiet.traceEnabled).toBe(false);
    quiet.trace('app:thing', data);
    expect(serialized).toBe(0);

    const arr: string[] = [];
    const viaCallback: string[] = [];
    const s1 = new Simulator({ trace: arr });
    const s2 = new Simulator({ trace: (r) => viaCallback.push(r) });
    s1.trace('app:thing', data);
    s2.trace('app:thing', data);
    expect(serialized).toBe(2);
    expect(arr).toEqual(viaCallback);
    expect(arr[1]).toBe('\x1e{"time":0,"name":"app:thing","data":{"x":1}}\n');
  });
});

describe('run()', () => {
  // 10 datagrams, one every 5 ms from t=0, 3 ms one-way: datagram k arrives at 5k + 3
  function setup() {
    const sim = new Simulator();
    const receiver = new Receiver();
    sim.addNode(A, new Sender(B, 10, 5, 20));
    sim.addNode(B, receiver);
    sim.link(A, B, { delay: 3 });
    return { sim, receiver };
  }

  it('stops when idle, at the last event', () => {
    const { sim, receiver } = setup();
    expect(sim.run({ maxTime: 1000 })).toMatchObject({ reason: 'idle', now: 48 });
    expect(receiver.arrivals.map((a) => a.time)).toEqual([3, 8, 13, 18, 23, 28, 33, 38, 43, 48]);
  });

  it('stops on the condition right after the event that satisfied it', () => {
    const { sim, receiver } = setup();
    expect(sim.run({ maxTime: 1000, until: () => receiver.arrivals.length >= 3 })).toMatchObject({ reason: 'condition', now: 13 });
    expect(receiver.arrivals.length).toBe(3);
    // a condition already true processes nothing
    expect(sim.run({ maxTime: 1000, until: () => true })).toEqual({ reason: 'condition', now: 13, events: 0 });
  });

  it('stops at maxTime with the clock there, and a later run resumes', () => {
    const { sim, receiver } = setup();
    expect(sim.run({ maxTime: 20 })).toMatchObject({ reason: 'maxTime', now: 20 });
    expect(receiver.arrivals.map((a) => a.seq)).toEqual([0, 1, 2, 3]);
    expect(sim.now).toBe(20);
    expect(sim.run({ maxTime: 1000 })).toMatchObject({ reason: 'idle', now: 48 });
    expect(receiver.arrivals.length).toBe(10);
  });

  it('stops after maxEvents events', () => {
    const { sim } = setup();
    const r = sim.run({ maxTime: 1000, maxEvents: 5 });
    expect(r.reason).toBe('maxEvents');
    expect(r.events).toBe(5);
    expect(sim.counters.events).toBe(5);
  });

  it('refuses to run re-entrantly', () => {
    const sim = new Simulator();
    const node: SimNode = {
      handleDatagram() {},
      pollTransmit: () => null,
      pollTimeout: () => 1,
      handleTimeout: () => void sim.run({ maxTime: 5 }),
    };
    sim.addNode(A, node);
    expect(() => sim.run({ maxTime: 10 })).toThrow(PetrelError);
  });

  it('stops a node that never stops transmitting', () => {
    const sim = new Simulator({ maxBurst: 100 });
    sim.addNode(B, new Receiver());
    sim.addNode(A, { handleDatagram() {}, pollTransmit: () => ({ data: new Uint8Array(1), to: B }), pollTimeout: () => null, handleTimeout() {} });
    expect(() => sim.run({ maxTime: 10 })).toThrow(/more than 100 datagrams/);
  });
});

describe('timers and callbacks', () => {
  /** Arms a timer at 100; a datagram moves it to arrival + 40; a timer in the past fires at once. */
  class TimerNode implements SimNode {
    deadline: number | null = 100;
    readonly fired: number[] = [];
    handleDatagram(_d: Uint8Array, _f: SimAddress, now: number): void {
      this.deadline = now + 40;
    }
    pollTransmit(): null {
      return null;
    }
    pollTimeout(): number | null {
      return this.deadline;
    }
    handleTimeout(now: number): void {
      this.fired.push(now);
      this.deadline = this.fired.length === 1 ? now - 5 : null;
    }
  }

  it('fires at the latest pollTimeout, never at a superseded one', () => {
    const sim = new Simulator();
    const t = new TimerNode();
    sim.addNode(B, t);
    sim.addNode(A, new Sender(B, 1, 0, 8, 10));
    // the datagram arrives at 10 → timer moves from 100 to 50; after firing it asks for 45 (past) → fires at 50 again
    expect(sim.run({ maxTime: 1000 })).toMatchObject({ reason: 'idle', now: 50 });
    expect(t.fired).toEqual([50, 50]);
  });

  it('runs at() callbacks at their time, ties in scheduling order, then drains nodes', () => {
    const sim = new Simulator();
    const log: string[] = [];
    const receiver = new Receiver();
    const outbox: { data: Uint8Array; to: SimAddress }[] = [];
    sim.addNode(A, { handleDatagram() {}, pollTransmit: () => outbox.shift() ?? null, pollTimeout: () => null, handleTimeout() {} });
    sim.addNode(B, receiver);
    sim.at(30, (s) => log.push(`b@${s.now}`));
    sim.at(20, (s) => log.push(`a@${s.now}`));
    sim.at(30, (s) => {
      log.push(`c@${s.now}`);
      outbox.push({ data: numbered(9, 10), to: B });
    });
    expect(sim.run({ maxTime: 100 })).toMatchObject({ reason: 'idle', now: 30 });
    expect(log).toEqual(['a@20', 'b@30', 'c@30']);
    expect(receiver.arrivals.map((a) => [a.seq, a.time])).toEqual([[9, 30]]);
  });

  it('run() picks up work queued on a node from outside', () => {
    const sim = new Simulator();
    const receiver = new Receiver();
    const outbox: { data: Uint8Array; to: SimAddress }[] = [];
    sim.addNode(A, { handleDatagram() {}, pollTransmit: () => outbox.shift() ?? null, pollTimeout: () => null, handleTimeout() {} });
    sim.addNode(B, receiver);
    sim.link(A, B, { delay: 4 });
    expect(sim.run({ maxTime: 100 }).reason).toBe('idle');
    outbox.push({ data: numbered(1, 10), to: B });
    expect(sim.run({ maxTime: 100 })).toMatchObject({ reason: 'idle', now: 4 });
    expect(receiver.arrivals.length).toBe(1);
  });
});

describe('routing and NAT rebinding', () => {
  it('the receiver sees the new source after rebinding and its replies reach the original node', () => {
    const sim = new Simulator();
    const client = new Sender(B, 10, 10, 16);
    const server = new Receiver(true);
    sim.addNode(A, client);
    sim.addNode(B, server);
    sim.link(A, B, { delay: 1 });
    sim.rebind(A, NAT, 45);
    sim.run({ maxTime: 1000 });
    // sent at 0..40 from A, at 50..90 from the NAT address
    expect(server.arrivals.map((a) => `${a.seq}:${a.from.host}:${a.from.port}`)).toEqual([
      ...[0, 1, 2, 3, 4].map((s) => `${s}:10.0.0.1:1000`),
      ...[5, 6, 7, 8, 9].map((s) => `${s}:198.51.100.7:40000`),
    ]);
    expect(client.replies.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sim.publicAddress(A)).toEqual(NAT);
    // the same physical link carried everything
    expect(sim.directions().map((d) => d.name)).toEqual(['10.0.0.1:1000>10.0.0.2:2000', '10.0.0.2:2000>10.0.0.1:1000']);
    expect(sim.direction(A, B).stats.delivered).toBe(10);
    expect(sim.direction(B, A).stats.delivered).toBe(10);
  });

  it('after rebinding the old address no longer routes (unless kept)', () => {
    for (const keepOldMapping of [false, true]) {
      const sim = new Simulator();
      const target = new Receiver();
      sim.addNode(A, target);
      sim.addNode(C, new Sender(A, 3, 10, 8));
      sim.rebind(A, NAT, 15, { keepOldMapping });
      sim.run({ maxTime: 1000 });
      expect(target.arrivals.map((a) => a.seq)).toEqual(keepOldMapping ? [0, 1, 2] : [0, 1]);
      expect(sim.counters.noroute).toBe(keepOldMapping ? 0 : 1);
    }
  });

  it('drops datagrams to unknown addresses, honours an explicit source, rejects address clashes', () => {
    const sim = new Simulator();
    const receiver = new Receiver();
    const alias: SimAddress = { host: '10.0.0.1', port: 1001 };
    const out = [
      { data: numbered(0, 8), to: C },
      { data: numbered(1, 8), to: B, from: alias },
    ];
    const node: SimNode = { handleDatagram() {}, pollTransmit: () => out.shift() ?? null, pollTimeout: () => null, handleTimeout() {} };
    sim.addNode(A, node);
    sim.addNode(alias, node);
    sim.addNode(B, receiver);
    sim.run({ maxTime: 10 });
    expect(sim.counters).toMatchObject({ sent: 2, delivered: 1, noroute: 1 });
    expect(receiver.arrivals[0]!.from).toEqual(alias);
    expect(sim.nodeAt(alias)).toBe(node);
    expect(() => sim.addNode(B, new Receiver())).toThrow(PetrelError);
    // alias>B was created on first use with the default config; A>B was never used
    expect(() => sim.link(alias, B)).toThrow(PetrelError);
    expect(sim.link(A, B, { delay: 1 }).ab.config.delay).toBe(1);
  });
});

describe('links', () => {
  it('each direction has its own config, and unlinked pairs use defaultLink', () => {
    const sim = new Simulator({ defaultLink: { delay: 7 } });
    const client = new Sender(B, 3, 100, 16);
    sim.addNode(A, client);
    sim.addNode(B, new Receiver(true));
    sim.link(A, B, { ab: { delay: 10 }, ba: { delay: 30 } });
    const third = new Receiver();
    sim.addNode(C, third);
    sim.addNode({ host: '10.0.0.4', port: 4000 }, new Sender(C, 1, 0, 8));
    sim.run({ maxTime: 1000 });
    // round trip = 10 + 30
    expect(client.replies.map((r) => r.time)).toEqual([40, 140, 240]);
    expect(third.arrivals.map((a) => a.time)).toEqual([7]);
    expect(sim.direction({ host: '10.0.0.4', port: 4000 }, C).config.delay).toBe(7);
  });

  it('a spoofed source reaches the receiver but nothing routes back to it', () => {
    const sim = new Simulator();
    const spoof: SimAddress = { host: '203.0.113.1', port: 53 };
    const out = [{ data: numbered(0, 8), to: B, from: spoof }];
    sim.addNode(A, { handleDatagram() {}, pollTransmit: () => out.shift() ?? null, pollTimeout: () => null, handleTimeout() {} });
    const echo = new Receiver(true);
    sim.addNode(B, echo);
    sim.run({ maxTime: 10 });
    expect(echo.arrivals[0]!.from).toEqual(spoof);
    expect(sim.counters).toMatchObject({ sent: 2, delivered: 1, noroute: 1 });
  });

  it('names IPv6 endpoints unambiguously', () => {
    const sim = new Simulator();
    expect(sim.direction({ host: '::1', port: 443 }, { host: '10.0.0.1', port: 1 }).name).toBe('[::1]:443>10.0.0.1:1');
  });
});
