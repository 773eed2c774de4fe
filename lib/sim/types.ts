/** The contract between the simulator and the sans-IO endpoints it drives. */
export interface SimAddress {
  host: string;
  port: number;
}
export interface SimNode {
  handleDatagram(data: Uint8Array, from: SimAddress, now: number): void;
  /** next datagram to send (the node owns `data`; the sim copies it), or null when nothing is due at `now` */
  pollTransmit(now: number): { data: Uint8Array; to: SimAddress; from?: SimAddress } | null;
  /** earliest time it needs handleTimeout, or null; also the earliest time pollTransmit may return something if it is pacing */
  pollTimeout(): number | null;
  handleTimeout(now: number): void;
}
