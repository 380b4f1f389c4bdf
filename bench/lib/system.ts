import type { PgFootprint } from './pgStats.ts';

/** CPU time used between start() and stop(), in ms. */
export interface CpuMeter {
  start(): Promise<void>;
  stop(): Promise<number>;
}

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
  /**
   * Measures the CPU time its database spends on it: on PostgreSQL the backends serving
   * its connections (told apart by application_name), on Redis the server's processes.
   */
  databaseCpu(): CpuMeter;
  /** Where it lives in PostgreSQL, for the systems that do. */
  postgres?: PgFootprint;
  /**
   * Creates `count` active subscriptions delivering to the receiver. Each gets its own
   * route and receiver path (/w/<i>) unless `sharedRoute` is given, in which case all of
   * them match that one route (fan-out). Returns the routes, in order.
   */
  subscribe(count: number, options?: { sharedRoute?: string }): Promise<string[]>;
  /** Publishes events; resolves once the system has accepted them (its 202). */
  publish(events: BenchEvent[]): Promise<void>;
  /**
   * Makes the statistics of what it wrote while provisioning visible now (PostgreSQL sends
   * a connection's counts when it closes, or within seconds of it going idle).
   */
  flushStats?(): Promise<void>;
  /** Removes every subscription (between scenarios). */
  unsubscribeAll(): Promise<void>;
  /** Stops its processes, runs `beforeCleanup` (its data still there) and drops its data. */
  stop(beforeCleanup?: () => Promise<void>): Promise<void>;
}

export interface SystemFactory {
  name: string;
  /** Short note for the report: storage, processes, durability. */
  describe: string;
  start(receiverUrl: (path: string) => string): Promise<SystemInstance>;
}
