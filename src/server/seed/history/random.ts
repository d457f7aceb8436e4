import { Random } from "../prng";

/**
 * The history's PRNG streams. Each purpose ("members", "usage:api_calls", "scenarios", …)
 * and org gets a stream of its own, keyed by a hash of (seed, purpose) and the org's index,
 * so one part of the story never shifts another's draws: a metric added to the catalogue
 * gets a new stream and leaves the other metrics' history as it was. Streams are also
 * distinct from the base seed's (seed, index) ones, which generated the orgs themselves.
 */
export function historyRandom(seed: number, purpose: string, index: number): Random {
  return new Random(fnv1a(`${seed}:history:${purpose}`), index);
}

/** FNV-1a over the UTF-16 code units: a small, stable 32-bit hash. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * A Poisson-distributed count with mean `mean` (Knuth's method; means above 30 use the
 * normal approximation, which is indistinguishable there and costs one draw pair).
 */
export function poisson(random: Random, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 30) {
    // Box–Muller: one standard normal from two uniforms.
    const z = Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next());
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * z));
  }
  const limit = Math.exp(-mean);
  let count = 0;
  let product = random.next();
  while (product > limit) {
    count++;
    product *= random.next();
  }
  return count;
}

/** `items` in a seeded random order (Fisher–Yates); the input is not changed. */
export function shuffled<T>(random: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.index(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
