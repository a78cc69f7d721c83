import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { redactText, usableSecrets } from '../util/redact.ts';

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
    // The same scrubber as the reports (util/redact.ts), so an artifact and a report agree.
    this.secrets = usableSecrets(secrets);
  }

  redact(text: string): string {
    return redactText(text, this.secrets);
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
