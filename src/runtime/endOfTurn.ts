/**
 * Work deferred to the end of the current turn of the event loop, so that what many I/O
 * callbacks of one turn produce is handled together: the results of the deliveries that
 * finished in it are written in one transaction, the calls made to the store thread travel
 * in one message.
 *
 * Plain `setImmediate` would do for each alone, but not chained: an immediate scheduled by
 * another immediate waits for the next turn, after every I/O callback of that turn. The
 * dispatcher writes results from an immediate and that write is a call to the store thread,
 * so its message waited a whole turn (several milliseconds on a busy main thread) before it
 * left. Here work added while the deferred work runs is run in the same pass (so a callback
 * must never defer itself again unconditionally: the turn would not end).
 *
 * The queue is module state on purpose, the one such in the program (freshExample.ts keeps
 * only a memo of a pure function): it belongs to the
 * thread's event loop as setImmediate's own queue does, and one queue per thread is what
 * makes the chaining work (the dispatcher's result write and the store client's post run
 * in the same pass only because they share it). It holds nothing between turns.
 */
let queue: Array<() => void> = [];
let scheduled = false;

function runQueue(): void {
  // Each callback may add more to `queue`: the loop reads its length afresh.
  for (let i = 0; i < queue.length; i++) {
    try {
      queue[i]!();
    } catch (err) {
      // One failing callback must not drop the others queued behind it: report it as
      // setImmediate would, once the rest have run.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
  queue = [];
  scheduled = false;
}

export function atEndOfTurn(fn: () => void): void {
  queue.push(fn);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runQueue);
  }
}
