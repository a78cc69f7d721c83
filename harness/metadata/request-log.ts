import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** One request a guest made to its metadata endpoint. */
export interface RequestLogEntry {
  /** ISO time the request arrived. */
  time: string;
  method: string;
  /** The request target as the guest sent it. */
  path: string;
  /** HTTP status sent; 499 when the client hung up before the answer. */
  status: number;
  userAgent?: string;
}

/** Requests kept in memory per instance: a boot makes ~100; a long-lived `metadata serve` may see millions. */
export const REQUEST_LOG_MAX_ENTRIES = 10_000;
/** Paths longer than this are cut (a guest's real ones are < 100 characters). */
export const REQUEST_LOG_MAX_PATH = 1024;

/** The path as logged: cut at REQUEST_LOG_MAX_PATH, saying how much was left out. */
export function loggedPath(path: string): string {
  return path.length <= REQUEST_LOG_MAX_PATH ? path : `${path.slice(0, REQUEST_LOG_MAX_PATH)}…(${path.length - REQUEST_LOG_MAX_PATH} more characters)`;
}

/**
 * Log of one instance's requests, optionally mirrored as JSON lines to a file (in order). Memory
 * stays bounded however long it runs: the newest REQUEST_LOG_MAX_ENTRIES in a ring, long paths
 * cut; the file keeps every request (paths cut the same way), and `dropped` says how many the
 * ring no longer holds.
 */
export class RequestLog {
  private readonly ring: RequestLogEntry[] = [];
  private next = 0;
  /** Requests the ring let go of (the oldest first). */
  dropped = 0;
  private writing: Promise<void> = Promise.resolve();
  private writeError: Error | undefined;

  constructor(
    private readonly file?: string,
    private readonly maxEntries = REQUEST_LOG_MAX_ENTRIES,
  ) {
    if (file) this.writing = mkdir(dirname(file), { recursive: true }).then(() => undefined);
  }

  add(raw: RequestLogEntry): void {
    const entry = { ...raw, path: loggedPath(raw.path), ...(raw.userAgent !== undefined ? { userAgent: loggedPath(raw.userAgent) } : {}) };
    if (this.ring.length < this.maxEntries) this.ring.push(entry);
    else {
      this.ring[this.next] = entry;
      this.dropped++;
    }
    this.next = (this.next + 1) % this.maxEntries;
    const file = this.file;
    if (!file) return;
    this.writing = this.writing
      .then(() => appendFile(file, `${JSON.stringify(entry)}\n`))
      .catch((err: Error) => {
        this.writeError ??= err;
      });
  }

  /** The requests held, oldest first. */
  list(): RequestLogEntry[] {
    const ordered = this.ring.length < this.maxEntries ? this.ring : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return ordered.map((e) => ({ ...e }));
  }

  /** Waits for pending writes; reports the first write error, if any. */
  async flush(): Promise<void> {
    await this.writing;
    if (this.writeError) throw new Error(`metadata request log ${this.file}: ${this.writeError.message}`);
  }
}
