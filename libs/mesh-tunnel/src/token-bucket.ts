/** Bytes per second with a one-second burst; `take` says how long to wait before going on. */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(private readonly ratePerSecond: number) {
    this.tokens = ratePerSecond;
  }

  /** Takes `amount` tokens (going negative if need be) and returns the wait in ms, 0 if none. */
  take(amount: number): number {
    const now = Date.now();
    this.tokens = Math.min(
      this.ratePerSecond,
      this.tokens + ((now - this.last) / 1000) * this.ratePerSecond,
    );
    this.last = now;
    this.tokens -= amount;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.ratePerSecond) * 1000);
  }
}
