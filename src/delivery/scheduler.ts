import type { ClaimedDelivery } from '../store/types.ts';

/**
 * The delivery worker's accounting of its leases, as a pure state machine: it is told what
 * happened (deliveries leased to it, an attempt finished, results written, a webhook went
 * inactive) and answers with what to do now (send these, give those back). It does no I/O
 * and reads no clock, so its caps and its accounting are tested by properties
 * (test/delivery.scheduler.test.ts); the dispatcher is the thin async shell that does what
 * it says (graphile-worker's localQueue.ts is the model).
 *
 * Every lease the worker holds is in exactly one state:
 *
 *     leased = sending + waiting + unrecorded + reserved
 *
 * - sending: an attempt under way;
 * - waiting: leased, held back by a cap (in its lane's queue);
 * - unrecorded: the attempt ended, its result is not written yet;
 * - reserved: room promised to a claim under way along another store call (claim-along)
 *   whose deliveries have not arrived yet.
 *
 * Lanes are per webhook (one queue each, at most `maxInFlightPerWebhook` sending) and are
 * grouped by tenant: the application that owns the webhook (at most
 * `maxInFlightPerApplication` sending over all its lanes). When several lanes could send
 * and the process-wide caps leave room for fewer, `nextLane` decides: round-robin between
 * tenants first, then between the lanes of one tenant. So a tenant with work never waits
 * behind more than one send of each other tenant, however many webhooks or deliveries
 * they have; a tenant at its cap is passed over (keeping its turn), and what it leaves is
 * there for the others; a tenant alone gets everything up to its cap.
 */
export interface SchedulerLimits {
  /** Requests in flight at once (DELIVERY_CONCURRENCY). */
  concurrency: number;
  /** Requests in flight to one webhook (MAX_IN_FLIGHT_PER_WEBHOOK). */
  maxInFlightPerWebhook: number;
  /** Requests in flight to the webhooks of one application (MAX_IN_FLIGHT_PER_APPLICATION). */
  maxInFlightPerApplication: number;
  /** Attempts sent and not yet recorded (sending + unrecorded), at most; bounds what a crash can make the worker send twice. */
  unrecordedCap: number;
  /** Leases held at once, at most (what claims may ask for is the room under it). */
  leaseBudget: number;
}

/** What the shell must do: start an attempt, or give leases back to the store unsent. */
export type SchedulerAction = { kind: 'send'; delivery: ClaimedDelivery } | { kind: 'release'; deliveryIds: string[] };

export interface SchedulerCounts {
  sending: number;
  waiting: number;
  unrecorded: number;
  reserved: number;
  /** sending + waiting + unrecorded + reserved. */
  leased: number;
}

export interface Scheduler {
  /** Deliveries were leased to this worker (a claim, a refill, a claim along a publish). */
  offer(deliveries: readonly ClaimedDelivery[]): SchedulerAction[];
  /** An attempt ended; its lease stays held, unrecorded, until `recorded`. */
  finish(delivery: ClaimedDelivery): SchedulerAction[];
  /** `n` unrecorded results were written (or given up): their leases end. */
  recorded(n: number): SchedulerAction[];
  /** The webhook is inactive (deactivated, deleted, gone): its waiting deliveries go back, and so will any offered for it. */
  deactivate(webhookId: string): SchedulerAction[];
  /** The webhook is active again (or was long enough inactive that no claim under way can still bring its deliveries). */
  activate(webhookId: string): void;
  isInactive(webhookId: string): boolean;
  /** Promises up to `limit` leases to a claim under way; returns how many were promised. */
  reserve(limit: number): number;
  /** The claim that `reserve` promised `n` to has answered (its deliveries are offered separately). */
  unreserve(n: number): void;
  /** Leases a claim may ask for now. */
  room(): number;
  /** Whether a new attempt would exceed a process-wide cap. */
  full(): boolean;
  /** Stops sending: the waiting deliveries are returned (to be released), and every later offer is too. */
  stop(): string[];
  counts(): SchedulerCounts;
}

interface Lane {
  webhookId: string;
  tenant: string;
  sending: number;
  queue: ClaimedDelivery[];
}

const NOTHING: SchedulerAction[] = [];

export function createScheduler(limits: SchedulerLimits): Scheduler {
  const { concurrency, maxInFlightPerWebhook, maxInFlightPerApplication, unrecordedCap, leaseBudget } = limits;
  const lanes = new Map<string, Lane>();
  /** Requests in flight per tenant (those with none are absent). */
  const tenantSending = new Map<string, number>();
  /**
   * Lanes that could send now but for the process-wide caps, by tenant. A Map keeps insertion
   * order: the first tenant is the next to be served, then moves to the back (round-robin);
   * likewise the lanes inside a tenant.
   */
  const ready = new Map<string, Map<string, Lane>>();
  const inactive = new Set<string>();
  let sending = 0;
  let waiting = 0;
  let unrecorded = 0;
  let reserved = 0;
  let running = true;

  const leased = () => sending + waiting + unrecorded + reserved;
  const full = () => sending >= concurrency || sending + unrecorded >= unrecordedCap;
  const canSend = (lane: Lane) => lane.queue.length > 0 && lane.sending < maxInFlightPerWebhook;

  /** Keeps `ready` true to the lane's state: in it exactly when the lane could send. */
  const track = (lane: Lane) => {
    let tenantLanes = ready.get(lane.tenant);
    if (canSend(lane)) {
      if (tenantLanes === undefined) {
        tenantLanes = new Map();
        ready.set(lane.tenant, tenantLanes);
      }
      if (!tenantLanes.has(lane.webhookId)) tenantLanes.set(lane.webhookId, lane);
      return;
    }
    if (tenantLanes !== undefined && tenantLanes.delete(lane.webhookId) && tenantLanes.size === 0) ready.delete(lane.tenant);
    if (lane.sending === 0 && lane.queue.length === 0) lanes.delete(lane.webhookId);
  };

  const atTenantCap = (tenant: string) => (tenantSending.get(tenant) ?? 0) >= maxInFlightPerApplication;
  const countSend = (tenant: string, delta: 1 | -1) => {
    const n = (tenantSending.get(tenant) ?? 0) + delta;
    if (n === 0) tenantSending.delete(tenant);
    else tenantSending.set(tenant, n);
  };

  /**
   * The choice of the lane that sends next: the tenant whose turn it is, then the lane whose
   * turn it is inside that tenant. Both then go to the back of their rotation. A tenant at
   * its cap is passed over and keeps its place: it is first once it may send again.
   */
  const nextLane = (): Lane | undefined => {
    for (const [tenant, tenantLanes] of ready) {
      if (atTenantCap(tenant)) continue;
      for (const [webhookId, lane] of tenantLanes) {
        tenantLanes.delete(webhookId);
        tenantLanes.set(webhookId, lane);
        ready.delete(tenant);
        ready.set(tenant, tenantLanes);
        return lane;
      }
    }
    return undefined;
  };

  /** Sends from ready lanes while the process-wide caps allow. */
  const dispatch = (out: SchedulerAction[]): SchedulerAction[] => {
    while (!full()) {
      const lane = nextLane();
      if (lane === undefined) break;
      const delivery = lane.queue.shift()!;
      waiting--;
      lane.sending++;
      sending++;
      countSend(lane.tenant, 1);
      track(lane);
      out.push({ kind: 'send', delivery });
    }
    return out;
  };

  const laneOf = (d: ClaimedDelivery): Lane => {
    let lane = lanes.get(d.webhookId);
    if (lane === undefined) {
      lane = { webhookId: d.webhookId, tenant: d.ownerClientId, sending: 0, queue: [] };
      lanes.set(d.webhookId, lane);
    }
    return lane;
  };

  return {
    offer(deliveries) {
      if (deliveries.length === 0) return NOTHING;
      const out: SchedulerAction[] = [];
      let refused: string[] | undefined;
      for (const d of deliveries) {
        if (!running || inactive.has(d.webhookId)) {
          (refused ??= []).push(d.id);
          continue;
        }
        const lane = laneOf(d);
        lane.queue.push(d);
        waiting++;
        track(lane);
      }
      if (refused !== undefined) out.push({ kind: 'release', deliveryIds: refused });
      return dispatch(out);
    },
    finish(d) {
      const lane = lanes.get(d.webhookId);
      if (lane === undefined || lane.sending === 0) throw new Error(`scheduler: ${d.id} finished but was not being sent`);
      lane.sending--;
      sending--;
      countSend(lane.tenant, -1);
      unrecorded++;
      track(lane);
      return dispatch([]);
    },
    recorded(n) {
      if (n > unrecorded) throw new Error(`scheduler: ${n} results recorded, only ${unrecorded} unrecorded`);
      unrecorded -= n;
      return n === 0 ? NOTHING : dispatch([]);
    },
    deactivate(webhookId) {
      inactive.add(webhookId);
      const lane = lanes.get(webhookId);
      if (lane === undefined || lane.queue.length === 0) return NOTHING;
      const unsent = lane.queue.splice(0);
      waiting -= unsent.length;
      track(lane);
      return [{ kind: 'release', deliveryIds: unsent.map((d) => d.id) }];
    },
    activate(webhookId) {
      inactive.delete(webhookId);
    },
    isInactive: (webhookId) => inactive.has(webhookId),
    reserve(limit) {
      const n = running ? Math.max(0, Math.min(limit, leaseBudget - leased())) : 0;
      reserved += n;
      return n;
    },
    unreserve(n) {
      if (n > reserved) throw new Error(`scheduler: ${n} reserved leases settled, only ${reserved} reserved`);
      reserved -= n;
    },
    room: () => (running ? Math.max(0, leaseBudget - leased()) : 0),
    full,
    stop() {
      running = false;
      const unsent: string[] = [];
      for (const lane of [...lanes.values()]) {
        for (const d of lane.queue.splice(0)) unsent.push(d.id);
        track(lane);
      }
      waiting = 0;
      return unsent;
    },
    counts: () => ({ sending, waiting, unrecorded, reserved, leased: leased() }),
  };
}
