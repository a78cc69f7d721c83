/**
 * A LIFO list of undo steps. Each setup step registers its undo right where it happens, so a
 * setup that fails halfway undoes exactly what it did. `unwind()` runs the steps newest first,
 * goes on past failures and returns them (one Error per failed step, named after it).
 *
 * Kept deliberately small (defer/unwind): the run session's cleanup stack will absorb it.
 */
export class TeardownStack {
  private readonly steps: { name: string; fn: () => unknown }[] = [];

  defer(name: string, fn: () => unknown): void {
    this.steps.push({ name, fn });
  }

  get size(): number {
    return this.steps.length;
  }

  async unwind(): Promise<Error[]> {
    const errors: Error[] = [];
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step.fn();
      } catch (err) {
        errors.push(new Error(`${step.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      }
    }
    return errors;
  }
}
