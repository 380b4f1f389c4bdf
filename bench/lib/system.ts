// What every benchmarked system (itwin-webhooks in each mode, and each baseline in
// bench/baselines/) offers the scenarios in bench/run.ts. The scenarios only publish and
// watch the shared receiver; how a system stores, queues and sends is its own business.

/** One event as the benchmark publishes it: `route` picks the subscriptions it matches. */
export interface BenchEvent {
  messageId: string;
  route: string;
  content: { sentAt: number; seq: number };
}

export interface SystemInstance {
  name: string;
  /** Processes whose memory counts for this system (its servers and workers, not the shared databases). */
  pids(): number[];
  /** The database server processes it relies on (shared by every run; their CPU time counts for the system). */
  databasePids(): number[];
  /**
   * Creates `count` active subscriptions delivering to the receiver. Each gets its own
   * route and receiver path (/w/<i>) unless `sharedRoute` is given, in which case all of
   * them match that one route (fan-out). Returns the routes, in order.
   */
  subscribe(count: number, options?: { sharedRoute?: string }): Promise<string[]>;
  /** Publishes events; resolves once the system has accepted them (its 202). */
  publish(events: BenchEvent[]): Promise<void>;
  /** Removes every subscription (between scenarios). */
  unsubscribeAll(): Promise<void>;
  stop(): Promise<void>;
}

export interface SystemFactory {
  name: string;
  /** Short note for the report: storage, processes, durability. */
  describe: string;
  start(receiverUrl: (path: string) => string): Promise<SystemInstance>;
}
