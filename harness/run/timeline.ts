import { READINESS_STAGES, type CellResult, type TimelineMark } from '../model/cell.ts';
import { cloudInitStagesOf } from '../probes/console-evidence.ts';

/**
 * A cell's boot timeline: the readiness stages the harness timed (ms from QEMU's start), and the
 * cloud-init stages from the console. A banner's "Up N seconds" is the guest's uptime, so it is
 * placed at the moment the harness saw the kernel banner ("Linux version", printed at uptime ~0)
 * plus N s: good to a few hundred ms under TCG, which is what a bar in a report needs. Without a
 * kernel mark (QEMU died first) only the harness's own marks are kept.
 */
export function buildTimeline(timings: CellResult['timings'], serialLog: string): TimelineMark[] {
  const marks: TimelineMark[] = [];
  for (const stage of READINESS_STAGES) {
    const at = timings[stage];
    if (stage !== 'process' && typeof at === 'number') marks.push({ label: stage, atMs: at, from: 'harness' });
  }
  const kernel = timings.kernel;
  if (kernel !== undefined) {
    for (const s of cloudInitStagesOf(serialLog)) marks.push({ label: `cloud-init ${s.stage}`, atMs: Math.round(kernel + s.upS * 1000), from: 'console' });
  }
  return marks.sort((a, b) => a.atMs - b.atMs);
}
