import { describe, expect, it } from 'vitest';
import { cloudInitStagesOf } from '../../harness/probes/console-evidence.ts';
import { renderHtml } from '../../harness/report/html.ts';
import { buildTimeline } from '../../harness/run/timeline.ts';
import { fixtureReport, PASS_CONSOLE } from '../helpers/report-fixture.ts';

describe('boot timeline', () => {
  it('reads the cloud-init stages and their uptimes from the console, final message last', () => {
    expect(cloudInitStagesOf(PASS_CONSOLE)).toEqual([
      { stage: 'init-local', upS: 41.31 },
      { stage: 'init', upS: 55.33 },
      { stage: 'modules:config', upS: 61.32 },
      { stage: 'modules:final', upS: 65.28 },
      { stage: 'finished', upS: 68.16 },
    ]);
    // A second boot's banners (a reboot) do not move the first ones.
    expect(cloudInitStagesOf(`${PASS_CONSOLE}${PASS_CONSOLE.replace('Up 41.31', 'Up 9.99')}`)[0]).toEqual({ stage: 'init-local', upS: 41.31 });
    expect(cloudInitStagesOf('no cloud-init here')).toEqual([]);
  });

  it('places the stages by uptime from the harness’s kernel mark, merged in time order with the harness’s own marks', () => {
    const marks = buildTimeline({ process: 10, kernel: 2_000, 'ssh-banner': 50_000, 'cloud-init': 70_500, totalMs: 80_000 }, PASS_CONSOLE);
    expect(marks.map((m) => `${m.label}@${m.atMs}/${m.from}`)).toEqual([
      'kernel@2000/harness',
      'cloud-init init-local@43310/console',
      'ssh-banner@50000/harness',
      'cloud-init init@57330/console',
      'cloud-init modules:config@63320/console',
      'cloud-init modules:final@67280/console',
      'cloud-init finished@70160/console',
      'cloud-init@70500/harness',
    ]);
    // Without a kernel mark (QEMU never printed one) the console cannot be placed: harness marks only.
    expect(buildTimeline({ totalMs: 5 }, PASS_CONSOLE)).toEqual([]);
  });

  it('the HTML report draws one bar per booted cell, each phase with its times on hover', () => {
    const html = renderHtml(fixtureReport('/r/artifacts'), '/r');
    expect(html).toContain('<h2>Boot timeline</h2>');
    expect(html).toContain('0 – 1m48s');
    expect(html).toContain('title="cloud-init init (network): 57.3s → 1m3s (6.0s)"');
    expect(html).toContain('title="probes: 1m40s → 1m46s (6.0s)"');
    expect(html).toContain('title="ssh-login at 1m20s"');
    // The error cell got as far as the kernel: its bar is drawn too; the cell without marks is not.
    expect(html.match(/<div class="bar"/g)).toHaveLength(2);
  });
});
