// Files that must survive a crash of the machine, not only of the process: written data reaches
// the disk only when it is flushed (fsync), and a new or renamed file's name only when its
// directory is flushed too.
import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes `text` to `file` (mode 0600) so that a crash of the machine leaves either the old file or
 * the new one, whole: a temporary file is flushed, then takes the file's name (`replace`: over the
 * file; `create`: only if there is none, EEXIST otherwise), then the directory is flushed.
 */
export function writeFileDurably(file: string, text: string, mode: 'replace' | 'create'): void {
  const temp = `${file}.${process.pid}.tmp`;
  fs.rmSync(temp, { force: true }); // left by a crashed process of the same id, with who knows what mode
  try {
    const fd = fs.openSync(temp, 'wx', 0o600);
    try {
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (mode === 'replace') fs.renameSync(temp, file);
    else fs.linkSync(temp, file);
  } finally {
    fs.rmSync(temp, { force: true });
  }
  flushPath(path.dirname(file));
}

/**
 * Flushes every file and directory under `root` (and `root` itself) to disk, one at a time through
 * Node's thread pool: a running server keeps answering meanwhile (a data directory holds a thousand
 * files and more).
 */
export async function flushTree(root: string): Promise<void> {
  for (const entry of await fs.promises.readdir(root, { withFileTypes: true })) {
    const child = path.join(root, entry.name);
    if (entry.isDirectory()) await flushTree(child);
    else if (entry.isFile()) await flushHandle(await fs.promises.open(child, 'r'));
  }
  await flushHandle(await fs.promises.open(root, 'r'));
}

async function flushHandle(handle: fs.promises.FileHandle): Promise<void> {
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes one file or directory to disk (a directory: the names it holds). */
export function flushPath(target: string): void {
  const fd = fs.openSync(target, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
