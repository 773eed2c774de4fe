/**
 * Per-case wire log: every datagram the runner sent and received, with what it decoded, as qlog-shaped
 * JSON-SEQ records (RFC 7464: each record starts with 0x1e and ends with a newline).
 */
export interface WireRecord {
  time: number;
  name: 'transport:datagrams_sent' | 'transport:datagrams_received' | 'conformance:note';
  data: Record<string, unknown>;
}

export class WireLog {
  readonly records: WireRecord[] = [];
  /** Bytes are logged in hex up to this many per datagram. */
  constructor(private readonly maxHex = 96) {}

  sent(time: number, bytes: Uint8Array, note: string): void {
    this.records.push({ time, name: 'transport:datagrams_sent', data: { length: bytes.length, note, head: hex(bytes, this.maxHex) } });
  }

  received(time: number, bytes: Uint8Array, decoded: string): void {
    this.records.push({ time, name: 'transport:datagrams_received', data: { length: bytes.length, decoded, head: hex(bytes, this.maxHex) } });
  }

  note(time: number, text: string): void {
    this.records.push({ time, name: 'conformance:note', data: { text } });
  }

  /** The log as a qlog 0.3 JSON-SEQ file (header record, then events). */
  toJsonSeq(title: string): string {
    const header = { qlog_version: '0.3', qlog_format: 'JSON-SEQ', title, trace: { vantage_point: { type: 'client', name: 'petrel-conformance' } } };
    const lines = [header, ...this.records].map((r) => '\x1e' + JSON.stringify(r) + '\n');
    return lines.join('');
  }
}

function hex(b: Uint8Array, max: number): string {
  let s = '';
  for (let i = 0; i < Math.min(b.length, max); i++) s += b[i]!.toString(16).padStart(2, '0');
  return b.length > max ? s + '…' : s;
}
