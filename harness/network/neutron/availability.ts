import { access, constants } from 'node:fs/promises';
import { execa } from 'execa';

/** Whether the neutron backend can run here, and if not, every reason (for doctor and skipped cells). */
export async function neutronAvailability(): Promise<{ available: boolean; reasons: string[] }> {
  const reasons: string[] = [];
  if (process.getuid?.() !== 0) reasons.push('needs root (CAP_NET_ADMIN) for network namespaces, bridges and taps');
  await access('/dev/net/tun', constants.R_OK | constants.W_OK).catch(() => reasons.push('/dev/net/tun is missing or not usable'));
  const tools: [string, string, string[]][] = [
    ['ip', 'iproute2', ['-V']],
    ['dnsmasq', 'dnsmasq-base', ['--version']],
    ['haproxy', 'haproxy', ['-v']],
    ['iptables', 'iptables', ['--version']],
  ];
  for (const [tool, pkg, args] of tools) {
    const r = await execa(tool, args, { reject: false });
    if (r.failed && r.exitCode === undefined) reasons.push(`${tool} not found (Debian package ${pkg})`);
  }
  return { available: reasons.length === 0, reasons };
}
