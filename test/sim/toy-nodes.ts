/** Tiny SimNodes for the simulator tests. Datagram payloads start with a big-endian u32 sequence number. */
import type { SimAddress, SimNode } from '../../lib/sim/types.js';

export const A: SimAddress = { host: '10.0.0.1', port: 1000 };
export const B: SimAddress = { host: '10.0.0.2', port: 2000 };

export function seqOf(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
}

export function numbered(seq: number, size: number): Uint8Array {
  const d = new Uint8Array(size);
  new DataView(d.buffer).setUint32(0, seq);
  for (let i = 4; i < size; i++) d[i] = (seq + i) & 0xff;
  return d;
}

export interface Arrival {
  seq: number;
  time: number;
  from: SimAddress;
  data: Uint8Array;
}

/** Emits `count` numbered datagrams, one every `interval` ms from `start` (interval 0: all at once). */
export class Sender implements SimNode {
  sent = 0;
  readonly replies: Arrival[] = [];
  private nextAt: number;
  constructor(
    readonly to: SimAddress,
    readonly count: number,
    readonly interval: number,
    readonly size: number,
    start = 0,
  ) {
    this.nextAt = start;
  }
  handleDatagram(data: Uint8Array, from: SimAddress, now: number): void {
    this.replies.push({ seq: seqOf(data), time: now, from, data });
  }
  pollTransmit(now: number): { data: Uint8Array; to: SimAddress } | null {
    if (this.sent >= this.count || now < this.nextAt) return null;
    const data = numbered(this.sent++, this.size);
    this.nextAt += this.interval;
    return { data, to: this.to };
  }
  pollTimeout(): number | null {
    return this.sent < this.count ? this.nextAt : null;
  }
  handleTimeout(): void {}
}

/** Records arrivals; with `echo`, answers each datagram with a copy to wherever it came from. */
export class Receiver implements SimNode {
  readonly arrivals: Arrival[] = [];
  private readonly outbox: { data: Uint8Array; to: SimAddress }[] = [];
  constructor(readonly echo = false) {}
  handleDatagram(data: Uint8Array, from: SimAddress, now: number): void {
    this.arrivals.push({ seq: seqOf(data), time: now, from, data });
    if (this.echo) this.outbox.push({ data, to: from });
  }
  pollTransmit(): { data: Uint8Array; to: SimAddress } | null {
    return this.outbox.shift() ?? null;
  }
  pollTimeout(): number | null {
    return null;
  }
  handleTimeout(): void {}
}

/** Sends datagram i (numbered i, `sizes[i]` bytes) at `times[i]`; times must be non-decreasing. */
export class ScriptedSender implements SimNode {
  sent = 0;
  constructor(
    readonly to: SimAddress,
    readonly times: readonly number[],
    readonly sizes: readonly number[],
  ) {}
  handleDatagram(): void {}
  pollTransmit(now: number): { data: Uint8Array; to: SimAddress } | null {
    if (this.sent >= this.times.length || now < this.times[this.sent]!) return null;
    const i = this.sent++;
    return { data: numbered(i, this.sizes[i]!), to: this.to };
  }
  pollTimeout(): number | null {
    return this.sent < this.times.length ? this.times[this.sent]! : null;
  }
  handleTimeout(): void {}
}
