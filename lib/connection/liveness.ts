/**
 * Fast dead-peer detection (issue 12), separate from the idle timeout: with `peerTimeout` set, a connection
 * sends an ack-eliciting keep-alive at least every peerTimeout / 4 (the "probes"), so a live peer answers
 * several times per period. Hearing nothing at all from the peer for peerTimeout / 2 makes the connection
 * 'unresponsive' (recoverable: any packet from the peer makes it 'responsive' again); hearing nothing for the
 * whole peerTimeout ends it (initiator 'peer_timeout', reason PEER_TIMEOUT). A peer killed right after its last
 * packet left is therefore noticed within peerTimeout + half a round trip. Sans-IO: times are `now`.
 */
export type LivenessChange = 'unresponsive' | 'responsive' | 'dead';

export class PeerLiveness {
  /** ms; 0 = off. */
  readonly timeout: number;
  private lastHeard: number;
  private unresponsive = false;

  constructor(timeout: number, now: number) {
    this.timeout = timeout > 0 ? timeout : 0;
    this.lastHeard = now;
  }

  get enabled(): boolean {
    return this.timeout > 0;
  }

  get isUnresponsive(): boolean {
    return this.unresponsive;
  }

  /**
   * ms since the last packet from the peer. Once unresponsive it is at least timeout / 2: the deadline test
   * `now >= lastHeard + timeout / 2` can hold while `now - lastHeard` rounds to just below it.
   */
  silentFor(now: number): number {
    const s = now - this.lastHeard;
    return this.unresponsive && s < this.timeout / 2 ? this.timeout / 2 : s;
  }

  /** Longest gap between our ack-eliciting packets while enabled (Infinity when off). */
  get keepAliveInterval(): number {
    return this.enabled ? this.timeout / 4 : Infinity;
  }

  /** An authenticated packet from the peer arrived. Returns 'responsive' when that ends an unresponsive spell. */
  onHeard(now: number): LivenessChange | null {
    if (now > this.lastHeard) this.lastHeard = now;
    if (!this.unresponsive) return null;
    this.unresponsive = false;
    return 'responsive';
  }

  /** The next time onTimeout has something to decide, or null. */
  deadline(): number | null {
    if (!this.enabled) return null;
    return this.unresponsive ? this.lastHeard + this.timeout : this.lastHeard + this.timeout / 2;
  }

  onTimeout(now: number): LivenessChange | null {
    if (!this.enabled) return null;
    if (now >= this.lastHeard + this.timeout) return 'dead';
    if (!this.unresponsive && now >= this.lastHeard + this.timeout / 2) {
      this.unresponsive = true;
      return 'unresponsive';
    }
    return null;
  }
}
