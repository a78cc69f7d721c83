import ssh2 from 'ssh2';

const { utils } = ssh2;

export interface SshKeyPair {
  /** OpenSSH-format private key (PEM text). */
  privateKey: string;
  /** `ssh-ed25519 AAAA… comment`, ready for authorized_keys and meta_data.json's public_keys. */
  publicKey: string;
}

/** A fresh ed25519 key pair in OpenSSH format. */
export function generateKeyPair(comment = 'cloudprobe'): SshKeyPair {
  const kp = utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: kp.private, publicKey: kp.public.trim() };
}

let runKey: SshKeyPair | undefined;

/**
 * The key pair of this harness run (one per process): the planner puts its public half into each
 * instance's public_keys and user data, runCell logs in with the private half.
 */
export function runKeyPair(): SshKeyPair {
  runKey ??= generateKeyPair(`cloudprobe-run-${process.pid}`);
  return runKey;
}

/** `type base64` of an OpenSSH public key line, without options or comment. */
export function keyBlob(publicKey: string): string {
  const m = /(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+)\s+([A-Za-z0-9+/=]+)/.exec(publicKey);
  if (!m) throw new Error(`not an OpenSSH public key: ${publicKey.slice(0, 40)}…`);
  return `${m[1]} ${m[2]}`;
}
