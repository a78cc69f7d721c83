import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * A VM's artifacts directory. Every file passes through the secret scrubber before it is
 * written: logs from the guest may echo passwords (chpasswd lists in cloud-init's user data).
 */
export class ArtifactWriter {
  readonly written: Record<string, string> = {};
  private readonly secrets: string[];

  constructor(
    readonly dir: string,
    secrets: readonly string[],
  ) {
    // Longest first, so a secret containing another is replaced whole. Secrets shorter than 3
    // characters (the seed article's password "1") are not scrubbed: that would wreck every log.
    this.secrets = [...new Set(secrets)].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('[redacted]');
    return out;
  }

  async write(kind: string, relPath: string, content: string): Promise<void> {
    const p = join(this.dir, relPath);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, this.redact(content));
    this.written[kind] = relPath;
  }

  async copy(kind: string, relPath: string, source: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(source, 'utf8');
    } catch {
      return;
    }
    await this.write(kind, relPath, text);
  }
}
