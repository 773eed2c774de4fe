import { NewReno } from '../../lib/congestion/new-reno.js';
import type { AckedPacketInfo, CongestionController } from '../../lib/congestion/types.js';
import { Recovery, type RecoveryConfig, type SentPacket, type SpaceId } from '../../lib/recovery/recovery.js';
import type { RttEstimator } from '../../lib/recovery/rtt.js';

export function pkt(pn: number, timeSent: number, o: Partial<SentPacket<string>> = {}): SentPacket<string> {
  return { pn, space: 2, timeSent, size: 1000, ackEliciting: true, inFlight: true, frames: `p${pn}`, ...o };
}

/** NewReno that records what Recovery asked of it. */
export class SpyCc implements CongestionController {
  readonly inner = new NewReno({ maxDatagramSize: 1200 });
  readonly name = 'spy';
  acked: AckedPacketInfo[][] = [];
  ackedAppLimited: boolean[] = [];
  events: Array<{ largestLostTimeSent: number; now: number }> = [];
  persistent: number[] = [];
  sent = 0;
  resets = 0;
  get window(): number {
    return this.inner.window;
  }
  get ssthresh(): number {
    return this.inner.ssthresh;
  }
  get inSlowStart(): boolean {
    return this.inner.inSlowStart;
  }
  get recoveryStartTime(): number {
    return this.inner.recoveryStartTime;
  }
  onPacketSent(bytes: number, now: number): void {
    this.sent++;
    this.inner.onPacketSent(bytes, now);
  }
  onPacketsAcked(acked: readonly AckedPacketInfo[], now: number, rtt: RttEstimator, appLimited: boolean): void {
    this.acked.push([...acked]);
    this.ackedAppLimited.push(appLimited);
    this.inner.onPacketsAcked(acked, now, rtt, appLimited);
  }
  onCongestionEvent(largestLostTimeSent: number, now: number): void {
    this.events.push({ largestLostTimeSent, now });
    this.inner.onCongestionEvent(largestLostTimeSent, now);
  }
  onPersistentCongestion(now: number): void {
    this.persistent.push(now);
    this.inner.onPersistentCongestion(now);
  }
  setMaxDatagramSize(bytes: number): void {
    this.inner.setMaxDatagramSize(bytes);
  }
  reset(): void {
    this.resets++;
    this.inner.reset();
  }
}

export function setup(cfg: Partial<RecoveryConfig> = {}): { r: Recovery<string>; cc: SpyCc } {
  const cc = new SpyCc();
  const r = new Recovery<string>({ maxAckDelay: 25, ...cfg }, cc);
  return { r, cc };
}

export const range = (smallest: number, largest: number) => ({ smallest, largest });
export const pns = (ps: readonly SentPacket<string>[]) => ps.map((p) => p.pn);
export type { SpaceId };
