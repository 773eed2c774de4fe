/** Connection counters, drop reasons, the delivery-rate estimate, and the stats() snapshot. */
import type { Pmtud } from '../path/pmtud.js';
import type { Recovery } from '../recovery/recovery.js';
import type { ConnectionStats } from './types.js';

export class Counters {
  packetsSent = 0;
  packetsReceived = 0;
  bytesSent = 0;
  bytesReceived = 0;
  packetsRetransmitted = 0;
  bytesRetransmitted = 0;
  datagramsSent = 0;
  datagramsReceived = 0;
  datagramsDropped = 0;
  acksSent = 0;
  readonly drops: Record<string, number> = {};

  countDrop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }
}

/** Delivery rate (bytes acknowledged per ms), measured over windows of about one smoothed RTT. */
export class DeliveryRate {
  private delivered = 0;
  private sampleTime = 0;
  private sampleDelivered = 0;
  rate = 0;

  onAcked(bytes: number): void {
    this.delivered += bytes;
  }

  sample(now: number, smoothedRtt: number): void {
    const elapsed = now - this.sampleTime;
    if (elapsed < Math.max(1, smoothedRtt)) return;
    this.rate = (this.delivered - this.sampleDelivered) / elapsed;
    this.sampleTime = now;
    this.sampleDelivered = this.delivered;
  }
}

/** What stats() gathers from the modules that own each figure. */
export interface StatsSources {
  counters: Counters;
  recovery: Recovery<unknown>;
  maxDatagramSize: number;
  streamsOpen: number;
  migrations: number;
  keyUpdates: number;
  deliveryRate: number;
  timeBlocked: number;
  pmtud: Pmtud | null;
  pacing: boolean;
  /** maxSendRate, bytes per ms (Infinity = none). */
  rateCap: number;
  sendCredit: { limit: number; used: number };
  recvWindow: { limit: number; window: number };
  datagramQueue: { messages: number; bytes: number; oldestAge: number };
  peerSilence: number;
  unresponsive: boolean;
}

export function connectionStats(s: StatsSources): ConnectionStats {
  const c = s.counters;
  const r = s.recovery;
  return {
    packetsSent: c.packetsSent,
    packetsReceived: c.packetsReceived,
    bytesSent: c.bytesSent,
    bytesReceived: c.bytesReceived,
    packetsRetransmitted: c.packetsRetransmitted,
    bytesRetransmitted: c.bytesRetransmitted,
    datagramsSent: c.datagramsSent,
    datagramsReceived: c.datagramsReceived,
    datagramsDropped: c.datagramsDropped,
    acksSent: c.acksSent,
    packetsLost: r.stats.packetsLost,
    bytesLost: r.stats.bytesLost,
    spuriousLosses: r.stats.spuriousLosses,
    ptoCount: r.stats.ptoCount,
    congestionEvents: r.stats.congestionEvents,
    smoothedRtt: r.rtt.smoothed,
    minRtt: r.rtt.hasSample ? r.rtt.min : 0,
    latestRtt: r.rtt.latest,
    rttVariance: r.rtt.rttvar,
    cwnd: r.cc.window,
    ssthresh: r.cc.ssthresh,
    bytesInFlight: r.bytesInFlight,
    maxDatagramSize: s.maxDatagramSize,
    streamsOpen: s.streamsOpen,
    drops: { ...c.drops },
    migrations: s.migrations,
    keyUpdates: s.keyUpdates,
    deliveryRate: s.deliveryRate,
    spuriousCongestionEvents: r.stats.spuriousCongestionEvents,
    timeBlocked: s.timeBlocked,
    pmtu: s.pmtud ? { state: s.pmtud.state, ...s.pmtud.stats } : null,
    pacingRate: Math.min(s.pacing ? (r.cc.pacingRate?.(r.rtt) ?? Infinity) : Infinity, s.rateCap),
    sendCredit: s.sendCredit,
    recvWindow: s.recvWindow,
    datagramQueue: s.datagramQueue,
    peerSilence: s.peerSilence,
    unresponsive: s.unresponsive,
  };
}
