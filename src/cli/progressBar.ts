const BAR_WIDTH = 30;

/** Redraws a one-line progress bar on stderr (a terminal's: callers check isTTY). */
export function drawBar(done: number, total: number): void {
  const filled = Math.round((done / total) * BAR_WIDTH);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total} events`);
}
