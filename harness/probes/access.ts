import { tryPasswordLogin } from '../ssh/client.ts';
import { keyBlob } from '../ssh/keys.ts';
import { Evidence, notApplicable, verdict, type ProbeContext } from './context.ts';
import type { ProbeVerdict } from '../model/probe.ts';

/**
 * The authorized_keys line that carries `publicKey` and lets it log in: cloud-init's disable_root
 * writes root's key behind `command="echo 'Please login as …'"`, which is present but refuses.
 */
export function usableKeyLine(authorizedKeys: string, publicKey: string): { line?: string; restricted?: string } {
  const blob = keyBlob(publicKey);
  let restricted: string | undefined;
  for (const raw of authorizedKeys.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || !line.includes(blob)) continue;
    const options = line.slice(0, line.indexOf(blob));
    if (/\bcommand=/.test(options)) restricted = line;
    else return { line };
  }
  return restricted ? { restricted } : {};
}

export async function probeAuthorizedKeys(ctx: ProbeContext): Promise<ProbeVerdict> {
  const exp = ctx.expectations.authorizedKeys;
  const na = notApplicable('authorized-keys', ctx, exp);
  if (na || !exp) return na!;
  const ev = new Evidence();
  const problems: string[] = [];
  const observed: Record<string, string> = {};
  for (const { user, keys } of exp) {
    const pw = await ev.run(ctx, `getent passwd ${user} || grep '^${user}:' /etc/passwd`);
    const home = pw.stdout.trim().split(':')[5];
    if (pw.code !== 0 || !home) {
      problems.push(`user ${user} does not exist`);
      continue;
    }
    const file = `${home}/.ssh/authorized_keys`;
    const r = await ev.run(ctx, `cat ${file}`, { root: true });
    observed[user] = r.code === 0 ? `${r.stdout.split('\n').filter(Boolean).length} key line(s) in ${file}` : `${file} missing`;
    if (r.code !== 0) {
      problems.push(`${file} is missing`);
      continue;
    }
    for (const key of keys) {
      const found = usableKeyLine(r.stdout, key);
      const short = `${keyBlob(key).slice(0, 30)}…`;
      if (found.restricted) problems.push(`${user}: key ${short} is present but restricted (${found.restricted.slice(0, found.restricted.indexOf('ssh-')).trim()})`);
      else if (!found.line) problems.push(`${user}: key ${short} is not in ${file}`);
    }
  }
  const total = exp.reduce((n, e) => n + e.keys.length, 0);
  return problems.length
    ? verdict('authorized-keys', 'fail', problems.join('; '), { expected: exp.map((e) => e.user), observed, evidence: ev })
    : verdict('authorized-keys', 'pass', `${total} key(s) usable for ${exp.map((e) => e.user).join(', ')}`, { expected: exp.map((e) => e.user), observed, evidence: ev });
}

/** Logs in over SSH with each configured password, and checks a wrong one is refused. */
export async function probePasswordLogin(ctx: ProbeContext): Promise<ProbeVerdict> {
  const exp = ctx.expectations.passwordLogin;
  const na = notApplicable('password-login', ctx, exp);
  if (na || !exp) return na!;
  const ev = new Evidence();
  const problems: string[] = [];
  const observed: Record<string, string> = {};
  const { host, port } = ctx.ssh;
  for (const { user, password } of exp) {
    const good = await tryPasswordLogin(host, port, user, password);
    ev.note(`ssh ${user}@guest with the configured password`, good.detail);
    if (!good.accepted) problems.push(`${user}: the configured password was refused (${good.detail})`);
    else if (good.whoami !== user) problems.push(`${user}: logged in but id -un said ${good.whoami}`);
    const bad = await tryPasswordLogin(host, port, user, `${password}-wrong`);
    ev.note(`ssh ${user}@guest with a wrong password`, bad.detail);
    if (bad.accepted) problems.push(`${user}: a WRONG password was accepted`);
    observed[user] = `${good.accepted ? 'accepted' : 'refused'}; wrong password ${bad.accepted ? 'accepted' : 'refused'}`;
  }
  const expected = exp.map((e) => e.user);
  return problems.length
    ? verdict('password-login', 'fail', problems.join('; '), { expected, observed, evidence: ev })
    : verdict('password-login', 'pass', `password login works for ${expected.join(', ')}; wrong passwords refused`, { expected, observed, evidence: ev });
}
