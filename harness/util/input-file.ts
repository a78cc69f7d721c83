import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * Reads a file the user named (a case, an instance, a user_data_file) without ever blocking on
 * it: opened non-blocking (so a FIFO or a device cannot hang the open), then refused unless it is
 * a regular file no bigger than `maxBytes`. A FIFO given as a case file used to hang `run --list`
 * where no signal could end it (the read waited in libuv's thread pool).
 */
export async function readInputFile(file: string, maxBytes = 16 * 1024 * 1024): Promise<string> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error(`not a regular file (${kindOf(st)})`), { code: 'ENOTREG' });
    if (st.size > maxBytes) throw Object.assign(new Error(`${st.size} bytes, more than the ${maxBytes} allowed`), { code: 'EFBIG' });
    return await fh.readFile({ encoding: 'utf8' });
  } finally {
    await fh.close();
  }
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a plain file';
}
