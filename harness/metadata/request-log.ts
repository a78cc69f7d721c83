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

/** In-memory log of one instance's requests, optionally mirrored as JSON lines to a file (in order). */
export class RequestLog {
  private readonly entries: RequestLogEntry[] = [];
  private writing: Promise<void> = Promise.resolve();
  private writeError: Error | undefined;

  constructor(private readonly file?: string) {
    if (file) this.writing = mkdir(dirname(file), { recursive: true }).then(() => undefined);
  }

  add(entry: RequestLogEntry): void {
    this.entries.push(entry);
    const file = this.file;
    if (!file) return;
    this.writing = this.writing
      .then(() => appendFile(file, `${JSON.stringify(entry)}\n`))
      .catch((err: Error) => {
        this.writeError ??= err;
      });
  }

  list(): RequestLogEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  /** Waits for pending writes; reports the first write error, if any. */
  async flush(): Promise<void> {
    await this.writing;
    if (this.writeError) throw new Error(`metadata request log ${this.file}: ${this.writeError.message}`);
  }
}
