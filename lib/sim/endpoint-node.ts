/**
 * Adapts a core Endpoint to the simulator's SimNode shape, with an optional application hook that runs
 * after every input (so tests and scenarios can react to events, read and write streams in virtual time).
 */
import type { Endpoint, EndpointEvent } from '../endpoint/endpoint.js';
import type { SimAddress, SimNode } from './types.js';

export class EndpointNode implements SimNode {
  readonly endpoint: Endpoint;
  /** Called with every endpoint event, then once more (event null) after each input. */
  app: ((ev: EndpointEvent | null, now: number) => void) | null = null;
  private readonly buf = new Uint8Array(2048);
  private lastNow = 0;

  constructor(endpoint: Endpoint) {
    this.endpoint = endpoint;
  }

  handleDatagram(data: Uint8Array, from: SimAddress, now: number): void {
    this.lastNow = now;
    this.endpoint.handleDatagram(data, from, now);
    this.runApp(now);
  }

  handleTimeout(now: number): void {
    this.lastNow = now;
    this.endpoint.handleTimeout(now);
    this.runApp(now);
  }

  /** Lets the application act outside of an input (e.g. at a scheduled time). */
  poke(now: number): void {
    this.lastNow = now;
    this.runApp(now);
  }

  pollTransmit(now: number): { data: Uint8Array; to: SimAddress } | null {
    this.lastNow = now;
    const t = this.endpoint.pollTransmit(now, this.buf);
    if (!t) {
      this.runApp(now);
      return null;
    }
    return { data: this.buf.subarray(0, t.length), to: t.to };
  }

  pollTimeout(): number | null {
    const t = this.endpoint.pollTimeout();
    // -Infinity: output is pending now (the simulator drains pollTransmit after every call anyway).
    return t === -Infinity ? this.lastNow : t;
  }

  private runApp(now: number): void {
    const app = this.app;
    for (let e = this.endpoint.pollEvent(); e; e = this.endpoint.pollEvent()) app?.(e, now);
    app?.(null, now);
  }
}
