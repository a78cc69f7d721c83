import type { Guest } from '../ssh/guest.ts';
import type { Expectations } from '../model/expectations.ts';
import type { ProbeName, ProbeVerdict } from '../model/probe.ts';
import type { ProbeContext } from './context.ts';

/**
 * How a probe is declared: what it expects from the scenario and how it judges the guest. The
 * helper does what every probe used to copy: n/a when the image's capability profile excludes the
 * probe or the scenario expects nothing, a recording guest whose commands become the evidence,
 * the timing, and — when the probe cannot run (lost SSH, a timeout, a command that had to work) —
 * an `error` verdict instead of a thrown exception or a misleading `fail`.
 */

/** What a probe concludes about the guest; defineProbe adds the name, evidence and duration. */
export interface Judgement {
  /** A probe judges pass, fail or n/a; "could not look" is a thrown error (made `error` here). */
  status: 'pass' | 'fail' | 'n/a';
  summary: string;
  expected?: unknown;
  observed?: unknown;
}

export type ProbeFn = (ctx: ProbeContext) => Promise<ProbeVerdict>;

export interface ProbeSpec<E> {
  /** The expectation this probe judges; undefined or an empty list: n/a, "the scenario expects nothing here". */
  expects: (e: Expectations) => E | undefined;
  /** Judges the guest. `guest` records what it runs (the evidence); throw when the guest cannot be looked at. */
  run: (expected: E, guest: Guest, ctx: ProbeContext) => Promise<Judgement>;
}

type Extra = Pick<Judgement, 'expected' | 'observed'>;

export function pass(summary: string, extra: Extra = {}): Judgement {
  return { status: 'pass', summary, ...extra };
}

export function fail(summary: string, extra: Extra = {}): Judgement {
  return { status: 'fail', summary, ...extra };
}

export function notApplicable(summary: string): Judgement {
  return { status: 'n/a', summary };
}

/** Fail listing the problems (`; `-joined), or pass with `passSummary` when there are none. */
export function judge(problems: readonly string[], passSummary: string, extra: Extra = {}): Judgement {
  return problems.length ? fail(problems.join('; '), extra) : pass(passSummary, extra);
}

/** The verdict a probe gets when it could not run: the harness could not look, so never `fail`. */
export function errorVerdict(probe: ProbeName, err: unknown): ProbeVerdict {
  return { probe, status: 'error', summary: `probe could not run: ${err instanceof Error ? err.message : String(err)}` };
}

function expectsNothing(expectation: unknown): boolean {
  return expectation === undefined || (Array.isArray(expectation) && expectation.length === 0);
}

export function defineProbe<E>(name: ProbeName, spec: ProbeSpec<E>): ProbeFn {
  return async (ctx) => {
    const started = Date.now();
    const guest = ctx.guest.recording();
    // Evidence only when there is some: n/a verdicts ran nothing.
    const evidence = () => (Object.keys(guest.evidence).length ? { evidence: guest.evidence } : {});
    let verdict: ProbeVerdict;
    try {
      const why = ctx.image.notApplicable[name];
      const expected = why ? undefined : spec.expects(ctx.expectations);
      const j: Judgement = why
        ? notApplicable(`not applicable to this image: ${why}`)
        : expected === undefined || expectsNothing(expected)
          ? notApplicable('the scenario expects nothing here')
          : await spec.run(expected, guest, ctx);
      verdict = {
        probe: name,
        status: j.status,
        summary: j.summary,
        ...(j.expected !== undefined ? { expected: j.expected } : {}),
        ...(j.observed !== undefined ? { observed: j.observed } : {}),
        ...evidence(),
      };
    } catch (err) {
      // What the probe saw up to the failure stays: it shows where the guest stopped answering.
      verdict = { ...errorVerdict(name, err), ...evidence() };
    }
    return { ...verdict, durationMs: Date.now() - started };
  };
}
