// Files that must survive a crash of the machine, not only of the process: written data reaches
// the disk only when it is flushed (fsync), and a new or renamed file's name only when its
// directory is flushed too.
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

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
 * Flushes every file and directory under `root` (and `root` itself) to disk, in a worker thread: a
 * data directory holds a thousand files and more, and a server under load would otherwise wait for
 * a turn of its event loop between every two of them (half a minute, measured, against a second).
 */
export function flushTree(root: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./flush-tree-worker.js', import.meta.url), { workerData: root });
    let failure: unknown;
    worker.once('error', (error) => {
      failure = error;
    });
    worker.once('exit', (code) => {
      if (failure !== undefined) reject(failure);
      else if (code !== 0) reject(new Error(`flushing ${root} stopped with exit code ${code}`));
      else resolve();
    });
  });
}

/**
 * flushTree's walk, on the calling thread. The tree may change under it (PGlite removes and
 * recreates files while it runs): a file or directory gone by the time it is opened needs no flush
 * of its own, its removal is in its parent directory, which is flushed after what it holds.
 */
export function flushTreeHere(root: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch (error) {
    if (isGone(error)) return;
    throw error;
  }
  for (const entry of entries) {
    const child = path.join(root, entry.name);
    if (entry.isDirectory()) flushTreeHere(child);
    else if (entry.isFile()) flushIfPresent(child);
  }
  flushIfPresent(root);
}

function flushIfPresent(target: string): void {
  try {
    flushPath(target);
  } catch (error) {
    if (!isGone(error)) throw error;
  }
}

function isGone(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
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
