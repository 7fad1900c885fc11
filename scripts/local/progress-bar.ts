/**
 * A one-line progress bar on a terminal: redrawn in place, throttled, erased when done. Written to stderr so
 * that stdout stays the command's result. On anything but a terminal it draws nothing.
 */
export class ProgressBar {
  private lastDraw = 0;
  private drawn = false;
  private readonly started = Date.now();

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 24,
  ) {}

  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  /** Shows `label` with a bar of `done` out of `total` (no bar when `total` is undefined). */
  update(label: string, done?: number, total?: number, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 80) return;
    this.lastDraw = now;
    const seconds = ((now - this.started) / 1000).toFixed(1);
    let bar = '';
    if (total !== undefined && done !== undefined) {
      const ratio = total === 0 ? 1 : Math.min(1, done / total);
      const filled = Math.round(ratio * this.width);
      bar = `[${'█'.repeat(filled)}${'░'.repeat(this.width - filled)}] ${done}/${total} `;
    }
    // A pseudo-terminal may report no width at all.
    const columns = this.stream.columns || 100;
    const line = `${bar}${label} · ${seconds} s`;
    this.stream.write(`\r\x1b[2K${line.slice(0, Math.max(10, columns - 1))}`);
    this.drawn = true;
  }

  /** Erases the bar. */
  clear(): void {
    if (this.enabled && this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}
