/**
 * Teardown registered beside each setup and run in reverse (as lima's host agent does): whoever
 * creates something (a work dir, a QEMU process, a metadata registration, a namespace) calls
 * `defer` right there with its undo. `unwind` runs every undo, newest first, carries on past a
 * failing one and reports them all, so one broken teardown never leaves the rest behind.
 */

export interface CleanupFailure {
  name: string;
  error: unknown;
}

interface Entry {
  name: string;
  undo: () => unknown;
}

export class CleanupStack {
  private readonly entries: Entry[] = [];
  private unwinding: Promise<CleanupFailure[]> | undefined;

  constructor(readonly label = 'cleanup') {}

  /**
   * Registers `undo` under a name (shown when it fails). Returns a function that takes the entry
   * off the stack without running it, for when ownership moves elsewhere (e.g. a VM kept by --keep).
   */
  defer(name: string, undo: () => unknown): () => void {
    if (this.unwinding) throw new Error(`${this.label}: "${name}" registered while unwinding`);
    const entry = { name, undo };
    this.entries.push(entry);
    return () => {
      const k = this.entries.indexOf(entry);
      if (k >= 0) this.entries.splice(k, 1);
    };
  }

  get size(): number {
    return this.entries.length;
  }

  /** Names of what is registered, newest first (the order unwind runs them in). */
  pending(): string[] {
    return this.entries.map((e) => e.name).reverse();
  }

  /** Runs every undo, newest first; idempotent (a second call waits for the first). */
  unwind(): Promise<CleanupFailure[]> {
    this.unwinding ??= (async () => {
      const failures: CleanupFailure[] = [];
      while (this.entries.length > 0) {
        const entry = this.entries.pop()!;
        try {
          await entry.undo();
        } catch (error) {
          failures.push({ name: entry.name, error });
        }
      }
      return failures;
    })();
    return this.unwinding;
  }
}

/** One line per failed undo, for a log. */
export function describeFailures(failures: readonly CleanupFailure[]): string[] {
  return failures.map((f) => `${f.name}: ${f.error instanceof Error ? f.error.message : String(f.error)}`);
}
