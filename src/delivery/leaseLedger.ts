import type { DeliveryQueue } from '../store/types.ts';

/**
 * Which leases a worker holds, and which it may hold without knowing it.
 *
 * A claim (or a completion that refills) can commit and then lose its connection before
 * the answer arrives: the store then holds leases for this worker that it never heard of,
 * and since this worker keeps heartbeating nobody would ever take them over. So the worker
 * keeps the ids it holds, notes the start time of every claim under way, and after a failed
 * claim returns the leases it does not hold that are older than any claim still under way.
 */
export interface LeaseLedger {
  /** The worker leased this delivery (it is sending it, or will). */
  hold(deliveryId: string): void;
  /** The lease ended: its result was written, or the delivery was given back. */
  drop(deliveryId: string): void;
  /** Runs a store call that may lease deliveries; should it fail, what it may have leased is looked for later. */
  claiming<T>(at: number, call: () => Promise<T>): Promise<T>;
  /** Leases this worker let go of without the store hearing of it (a failed release) at `at`: look for them later. */
  lost(at: number): void;
  /** Returns the orphaned leases of failed calls, once no claim that started before them is still under way; resolves with how many. */
  releaseOrphans(): Promise<number>;
}

export function createLeaseLedger(deps: { store: Pick<DeliveryQueue, 'releaseOrphanedLeases'>; workerId: string; now: () => number }): LeaseLedger {
  const { store, workerId, now } = deps;
  const held = new Set<string>();
  const claimsUnderWay = new Map<number, number>();
  let claimSeq = 0;
  /** Leases older than this may be orphans (0: nothing to look for). */
  let orphansBefore = 0;
  const lost = (at: number) => {
    orphansBefore = Math.max(orphansBefore, at + 1);
  };

  return {
    hold: (id) => void held.add(id),
    drop: (id) => void held.delete(id),
    lost,
    async claiming(at, call) {
      const token = ++claimSeq;
      claimsUnderWay.set(token, at);
      try {
        return await call();
      } catch (err) {
        // Its leases, if it committed, carry the time `at`.
        lost(at);
        throw err;
      } finally {
        claimsUnderWay.delete(token);
      }
    },
    async releaseOrphans() {
      if (orphansBefore === 0) return 0;
      const before = Math.min(now(), ...claimsUnderWay.values());
      if (before < orphansBefore) return 0;
      const returned = await store.releaseOrphanedLeases(workerId, [...held], before, now());
      if (orphansBefore <= before) orphansBefore = 0;
      return returned;
    },
  };
}
