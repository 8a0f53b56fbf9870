/**
 * Output of many processes on one terminal: each line prefixed with who wrote it
 * (`reviews-v2     | listening on ...`), partial lines held until their newline so two
 * processes never interleave inside a line.
 */
export class LinePrefixer {
  private pending = '';

  constructor(
    private readonly prefix: string,
    private readonly write: (text: string) => void,
  ) {}

  push(chunk: string): void {
    const text = this.pending + chunk;
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.pending = text;
      return;
    }
    this.pending = text.slice(end + 1);
    const lines = text.slice(0, end).split('\n');
    this.write(lines.map((l) => `${this.prefix}${l.replace(/\r$/, '')}\n`).join(''));
  }

  /** Writes what is left of an unterminated last line. */
  flush(): void {
    if (this.pending === '') return;
    const rest = this.pending;
    this.pending = '';
    this.write(`${this.prefix}${rest}\n`);
  }
}

/** `name` padded to `width`, then ` | `: aligned columns for names of different lengths. */
export function prefixFor(name: string, width: number): string {
  return `${name.padEnd(width)} | `;
}
