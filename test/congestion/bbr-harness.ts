/** Drives a Bbr by hand: a writable delivery state and rate samples built field by field. */
import { Bbr, type BbrConfig } from '../../lib/congestion/bbr/bbr.js';
import type { DeliveryState, RateSample } from '../../lib/congestion/types.js';
import { RttEstimator } from '../../lib/recovery/rtt.js';

export const MDS = 1200;

export class FakeDelivery implements DeliveryState {
  delivered = 0;
  lost = 0;
  bytesInFlight = 0;
  isAppLimited = false;
  marks = 0;
  markAppLimited(): void {
    this.marks++;
    this.isAppLimited = true;
  }
}

export interface AckOptions {
  /** delivery rate, bytes/ms (0 = no rate sample) */
  rate?: number;
  rtt?: number;
  newlyAcked?: number;
  appLimited?: boolean;
  /** bytes in flight after this ACK */
  inFlight?: number;
  /** false: the sample does not end a round (its packet was sent before the round began) */
  roundStart?: boolean;
  lost?: number;
  txInFlight?: number;
  /** ms to advance before this ACK (default: the sample's rtt, one round) */
  dt?: number;
  /** RS.prior_delivered (default: whatever makes this ACK end the round) */
  priorDelivered?: number;
}

export class Harness {
  readonly c = new FakeDelivery();
  readonly rtt = new RttEstimator(100, 1);
  readonly bbr: Bbr;
  now = 0;

  constructor(cfg: Partial<BbrConfig> = {}) {
    // random 0: probe wait exactly 2 s and rounds_since_bw_probe 0, so tests know when probing starts
    this.bbr = new Bbr({ maxDatagramSize: MDS, random: () => 0, ...cfg });
    this.bbr.bindDeliveryState(this.c);
    this.bbr.onPacketSent(MDS, 0, MDS);
  }

  /** One ACK carrying a rate sample. */
  ack(o: AckOptions = {}): RateSample {
    const rtt = o.rtt ?? 100;
    this.now += o.dt ?? rtt;
    const newlyAcked = o.newlyAcked ?? 10 * MDS;
    const m = this.bbr.model;
    const priorDelivered = o.priorDelivered ?? (o.roundStart === false ? m.nextRoundDelivered - 1 : Math.max(m.nextRoundDelivered, this.c.delivered));
    this.c.delivered += newlyAcked;
    if (o.inFlight !== undefined) this.c.bytesInFlight = o.inFlight;
    this.rtt.update(rtt, 0, 0, true);
    const rs: RateSample = {
      deliveryRate: o.rate ?? 0,
      interval: rtt,
      delivered: this.c.delivered - priorDelivered,
      priorDelivered,
      isAppLimited: o.appLimited ?? false,
      rtt,
      newlyAcked,
      newlyLost: 0,
      txInFlight: o.txInFlight ?? this.c.bytesInFlight,
      lost: o.lost ?? 0,
    };
    this.bbr.onPacketsAcked([], this.now, this.rtt);
    this.bbr.onRateSample(rs, this.now);
    return rs;
  }

  /** Startup with the rate doubling each round, then flat until the pipe is declared full. */
  fillPipe(bw: number, rtt = 100): void {
    for (let r = bw / 16; r < bw; r *= 2) this.ack({ rate: r, rtt, inFlight: 2 * bw * rtt });
    for (let i = 0; i < 4 && this.bbr.state === 'startup'; i++) this.ack({ rate: bw, rtt, inFlight: 2 * bw * rtt });
  }
}
