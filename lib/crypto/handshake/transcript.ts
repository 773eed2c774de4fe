/** The handshake transcript (spec/handshake.md §Key schedule): the messages as framed on the wire. */
import type { CryptoProvider } from '../provider.js';

/** The handshake transcript: messages as framed on the wire, hashed whole at each point (few, short messages). */
export class Transcript {
  private readonly parts: Uint8Array[] = [];
  private length = 0;
  constructor(private readonly provider: CryptoProvider) {}
  add(message: Uint8Array): void {
    this.parts.push(message);
    this.length += message.length;
  }
  /** Forgets the messages once no secret or MAC is derived from the transcript any more (the session is done). */
  release(): void {
    this.parts.length = 0;
    this.length = -1;
  }
  hash(): Uint8Array {
    if (this.length < 0) throw new Error('handshake transcript used after release');
    const all = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      all.set(p, o);
      o += p.length;
    }
    return this.provider.sha256(all);
  }
}
