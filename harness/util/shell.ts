/**
 * POSIX shell quoting, done in one place: the guest handle (harness/ssh/guest.ts) turns argv into
 * one command line with it, and the boot's `cloud-init status --wait` runs as root through asRoot.
 */

// Words made only of these need no quotes in any POSIX shell (the set Python's shlex.quote uses).
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

// A first word that is a reserved word would be read as syntax, not as a command name.
const RESERVED = new Set(['!', '{', '}', 'case', 'do', 'done', 'elif', 'else', 'esac', 'fi', 'for', 'if', 'in', 'then', 'until', 'while']);

/**
 * One shell word that a POSIX shell reads back as exactly `s`: left bare when it is plainly safe
 * (so evidence reads `cat /etc/hostname`, as a person would type it), else single-quoted, with
 * each `'` written as `'\''`. Inside single quotes nothing is special: `$`, `\`, backquotes and
 * newlines stay literal.
 */
export function shellQuote(s: string): string {
  if (SAFE_WORD.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * argv as one command line. The first word is quoted also when bare it would be an assignment
 * (`A=b`) or a reserved word (`if`): the shell must run it as a command.
 */
export function shellJoin(argv: readonly string[]): string {
  return argv
    .map((word, i) => (i === 0 && (word.includes('=') || RESERVED.has(word)) ? `'${word.replaceAll("'", `'\\''`)}'` : shellQuote(word)))
    .join(' ');
}

/** Runs `command` as root: directly for root, else through passwordless sudo (cloud-init's default user has it). */
export function asRoot(user: string, command: string): string {
  return user === 'root' ? command : `sudo -n sh -c ${shellQuote(command)}`;
}
