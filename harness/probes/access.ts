import { tryPasswordLogin } from '../ssh/client.ts';
import { keyBlob } from '../ssh/keys.ts';
import { shellQuote } from '../util/shell.ts';
import { defineProbe, judge } from './define.ts';

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

/** Each expected key is in the user's authorized_keys, on a line that lets it log in. */
export const probeAuthorizedKeys = defineProbe('authorized-keys', {
  expects: (e) => e.authorizedKeys,
  run: async (exp, guest) => {
    const problems: string[] = [];
    const observed: Record<string, string> = {};
    for (const { user, keys } of exp) {
      // Images without getent (busybox) fall back to /etc/passwd itself.
      const pw = await guest.exec({ shell: `getent passwd ${shellQuote(user)} || grep ${shellQuote(`^${user}:`)} /etc/passwd` });
      const home = pw.stdout.trim().split(':')[5];
      if (pw.code !== 0 || !home) {
        problems.push(`user ${user} does not exist`);
        continue;
      }
      const file = `${home}/.ssh/authorized_keys`;
      const content = await guest.readFile(file, { root: true });
      observed[user] = content !== undefined ? `${content.split('\n').filter(Boolean).length} key line(s) in ${file}` : `${file} missing`;
      if (content === undefined) {
        problems.push(`${file} is missing`);
        continue;
      }
      for (const key of keys) {
        const found = usableKeyLine(content, key);
        const short = `${keyBlob(key).slice(0, 30)}…`;
        if (found.restricted) problems.push(`${user}: key ${short} is present but restricted (${found.restricted.slice(0, found.restricted.indexOf('ssh-')).trim()})`);
        else if (!found.line) problems.push(`${user}: key ${short} is not in ${file}`);
      }
    }
    const total = exp.reduce((n, e) => n + e.keys.length, 0);
    const users = exp.map((e) => e.user);
    return judge(problems, `${total} key(s) usable for ${users.join(', ')}`, { expected: users, observed });
  },
});

/** Logs in over SSH with each configured password, and checks a wrong one is refused. */
export const probePasswordLogin = defineProbe('password-login', {
  expects: (e) => e.passwordLogin,
  run: async (exp, guest, ctx) => {
    const problems: string[] = [];
    const observed: Record<string, string> = {};
    const { host, port } = ctx.ssh;
    for (const { user, password } of exp) {
      // Separate logins, not commands of the probe's session: recorded as notes.
      const good = await tryPasswordLogin(host, port, user, password);
      guest.note(`ssh ${user}@guest with the configured password`, good.detail);
      if (!good.accepted) problems.push(`${user}: the configured password was refused (${good.detail})`);
      else if (good.whoami !== user) problems.push(`${user}: logged in but id -un said ${good.whoami}`);
      const bad = await tryPasswordLogin(host, port, user, `${password}-wrong`);
      guest.note(`ssh ${user}@guest with a wrong password`, bad.detail);
      if (bad.accepted) problems.push(`${user}: a WRONG password was accepted`);
      observed[user] = `${good.accepted ? 'accepted' : 'refused'}; wrong password ${bad.accepted ? 'accepted' : 'refused'}`;
    }
    const expected = exp.map((e) => e.user);
    return judge(problems, `password login works for ${expected.join(', ')}; wrong passwords refused`, { expected, observed });
  },
});
