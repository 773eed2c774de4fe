/**
 * Budgets for what an endpoint sends to addresses it has not validated (spec/transport.md §Endpoint budgets):
 * Version Negotiation, Retry and stateless resets. Each reply must be at most 3× the datagram that triggered
 * it (RFC 9000 §8) and replies are rate-limited per source prefix and in total, so a spoofed flood reflects
 * at most `perPrefix` small datagrams a second at any one victim network.
 */
export interface ReplyBudgetConfig {
  /** Replies per second to one prefix (a /24 or /64), with a burst of twice that. */
  perPrefix: number;
  /** Replies per second in total. */
  total: number;
  /** Prefixes remembered at most (the oldest is forgotten first). */
  maxPrefixes: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class ReplyBudget {
  private readonly cfg: ReplyBudgetConfig;
  private readonly prefixes = new Map<string, Bucket>();
  private readonly all: Bucket;
  /** Replies refused, by reason (endpoint stats). */
  refusedRate = 0;
  refusedSize = 0;

  constructor(cfg: ReplyBudgetConfig) {
    this.cfg = cfg;
    this.all = { tokens: cfg.total, at: 0 };
  }

  /** Whether a reply of `replyBytes` to a datagram of `receivedBytes` from `prefix` may go now (and books it). */
  allow(prefix: string, replyBytes: number, receivedBytes: number, now: number): boolean {
    if (replyBytes > 3 * receivedBytes) {
      this.refusedSize++;
      return false;
    }
    let b = this.prefixes.get(prefix);
    if (b === undefined) {
      if (this.prefixes.size >= this.cfg.maxPrefixes) this.prefixes.delete(this.prefixes.keys().next().value!);
      b = { tokens: 2 * this.cfg.perPrefix, at: now };
      this.prefixes.set(prefix, b);
    }
    refill(b, now, this.cfg.perPrefix, 2 * this.cfg.perPrefix);
    refill(this.all, now, this.cfg.total, this.cfg.total);
    if (b.tokens < 1 || this.all.tokens < 1) {
      this.refusedRate++;
      return false;
    }
    b.tokens--;
    this.all.tokens--;
    return true;
  }

  get trackedPrefixes(): number {
    return this.prefixes.size;
  }
}

function refill(b: Bucket, now: number, rate: number, cap: number): void {
  if (now > b.at) {
    b.tokens = Math.min(cap, b.tokens + ((now - b.at) * rate) / 1000);
    b.at = now;
  }
}
