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
  hash(): Uint8Array {
    const all = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      all.set(p, o);
      o += p.length;
    }
    return this.provider.sha256(all);
  }
}
