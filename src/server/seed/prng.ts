/**
 * A small seeded PRNG (sfc32) and the helpers the generator draws from. Every organization
 * gets its own stream, keyed by (seed, org index), so an org's rows depend on nothing else:
 * batches can be generated in any order or in parallel, and `--orgs 100` is a prefix of
 * `--orgs 200` for the same seed.
 *
 * sfc32 keeps 128 bits of state, so distinct (seed, index) pairs never share a stream and
 * the UUIDs drawn from it collide no more often than random v4 UUIDs would; a 32-bit
 * generator such as mulberry32 would repeat whole orgs once a database held ~65k of them.
 */
/** The PRNG takes a 32-bit seed; larger values would silently alias smaller ones. */
export const MAX_SEED = 0xffff_ffff;

export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream: number) {
    this.a = (seed ^ 0x9e3779b9) >>> 0;
    this.b = stream >>> 0;
    this.c = 0x6a09e667;
    this.d = 1;
    // The first outputs of a freshly keyed sfc32 still look like the key: warm it up.
    for (let i = 0; i < 15; i++) this.uint32();
  }

  uint32(): number {
    const a = this.a;
    const b = this.b;
    const c = this.c;
    const d = this.d;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    const r = (c << 21) | (c >>> 11);
    this.c = (r + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  /** Uniform index into a list of `length` items. */
  index(length: number): number {
    return Math.floor(this.next() * length);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.index(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  /** An integer whose logarithm is uniform in [ln min, ln max]: many small, few large. */
  logUniform(min: number, max: number): number {
    return Math.floor(Math.exp(Math.log(min) + this.next() * (Math.log(max) - Math.log(min))));
  }

  /** Exponentially distributed with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** A random version-4 UUID (RFC 9562 layout: version nibble 4, variant bits 10). */
  uuid(): string {
    const w0 = this.uint32();
    const w1 = (this.uint32() & 0xffff0fff) | 0x00004000;
    const w2 = (this.uint32() & 0x3fffffff) | 0x80000000;
    const w3 = this.uint32();
    // Byte-wise table lookups: this runs for every seeded row, so it is kept cheap.
    return (
      hex(w0 >>> 24) +
      hex(w0 >>> 16) +
      hex(w0 >>> 8) +
      hex(w0) +
      "-" +
      hex(w1 >>> 24) +
      hex(w1 >>> 16) +
      "-" +
      hex(w1 >>> 8) +
      hex(w1) +
      "-" +
      hex(w2 >>> 24) +
      hex(w2 >>> 16) +
      "-" +
      hex(w2 >>> 8) +
      hex(w2) +
      hex(w3 >>> 24) +
      hex(w3 >>> 16) +
      hex(w3 >>> 8) +
      hex(w3)
    );
  }

  /** `length` characters from [0-9A-Za-z], like the random part of a Dodo id. */
  alphanumeric(length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += ALPHANUMERIC[this.uint32() % ALPHANUMERIC.length];
    return out;
  }
}

const ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const HEX_BYTES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** The low byte of `word` as two hex digits. */
function hex(word: number): string {
  return HEX_BYTES[word & 0xff] as string;
}
