import { open, stat } from 'node:fs/promises';
import { cleanConsole } from '../util/console-text.ts';

/** The last `lines` lines of a serial log (or of its last 64 KiB), control characters removed. */
export async function consoleTail(path: string, lines = 40): Promise<string> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const text = cleanConsole(buf.toString('utf8'));
    return text.split('\n').slice(-lines).join('\n').trimEnd();
  } finally {
    await fh.close();
  }
}

/** Whether the serial log contains `pattern`, reading only what was appended since `from`. */
export class ConsoleWatcher {
  private offset = 0;
  private carry = '';
  constructor(readonly path: string) {}

  async find(pattern: RegExp): Promise<string | undefined> {
    let size: number;
    try {
      size = (await stat(this.path)).size;
    } catch {
      return undefined;
    }
    if (size > this.offset) {
      const fh = await open(this.path, 'r');
      try {
        const buf = Buffer.alloc(size - this.offset);
        await fh.read(buf, 0, buf.length, this.offset);
        this.offset = size;
        this.carry = (this.carry + cleanConsole(buf.toString('utf8'))).slice(-256 * 1024);
      } finally {
        await fh.close();
      }
    }
    return pattern.exec(this.carry)?.[0];
  }
}
