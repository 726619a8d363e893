/** Options of the per-client rate limit. */
export interface RateLimitOptions {
  /** Queries per second each client address may send, on average. */
  queriesPerSecond: number;
  /** Queries a client may send at once above the average. Default: `queriesPerSecond`. */
  burst?: number;
  /** What happens to a query over the limit: dropped (default, no reflection) or REFUSED. */
  action?: 'drop' | 'refuse';
  /** At most this many client addresses are tracked; beyond it, the oldest are forgotten. */
  maxClients?: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** A token bucket per client address. */
export class ClientRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxClients: number;

  constructor(
    options: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.rate = options.queriesPerSecond;
    this.burst = options.burst ?? options.queriesPerSecond;
    this.maxClients = options.maxClients ?? 10_000;
  }

  /** Takes a token for `client`; false when it has none left. */
  allow(client: string): boolean {
    const now = this.now();
    let bucket = this.buckets.get(client);
    if (!bucket) {
      if (this.buckets.size >= this.maxClients) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      bucket = { tokens: this.burst, updatedAt: now };
      this.buckets.set(client, bucket);
    } else {
      bucket.tokens = Math.min(
        this.burst,
        bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.rate,
      );
      bucket.updatedAt = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  clear(): void {
    this.buckets.clear();
  }
}
