/**
 * A Bloom filter of strings: `has` is false only for strings never added; it is true for
 * about 1 % of the others (10 bits and 7 probes per string at capacity). The embedded
 * store keeps one of the message ids in event_ids: nearly every published id is new, and
 * "not there" from the filter spares a B-tree lookup per event (recentMessageIds.ts).
 */
export interface IdFilter {
  add(id: string): void;
  has(id: string): boolean;
  /** Strings added so far; past `capacity` the false-positive rate climbs. */
  readonly count: number;
  readonly capacity: number;
}

const BITS_PER_ID = 10;
const PROBES = 7;

export function createIdFilter(capacity: number): IdFilter {
  // A power of two, so that a probe's bit index is a mask, not a division.
  let bits = 32;
  while (bits < capacity * BITS_PER_ID) bits *= 2;
  const words = new Uint32Array(bits / 32);
  const mask = bits - 1;
  let count = 0;

  /** Two independent 32-bit hashes in one pass (FNV-1a and a multiply-xorshift); probes are h1 + i·h2. */
  const hashes = (id: string): [number, number] => {
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    // An odd step visits distinct bits for every probe.
    return [h1 >>> 0, (h2 | 1) >>> 0];
  };

  return {
    add(id) {
      const [h1, h2] = hashes(id);
      for (let i = 0; i < PROBES; i++) {
        const bit = (h1 + Math.imul(i, h2)) & mask;
        words[bit >>> 5]! |= 1 << (bit & 31);
      }
      count++;
    },
    has(id) {
      const [h1, h2] = hashes(id);
      for (let i = 0; i < PROBES; i++) {
        const bit = (h1 + Math.imul(i, h2)) & mask;
        if ((words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
      }
      return true;
    },
    get count() {
      return count;
    },
    capacity,
  };
}
