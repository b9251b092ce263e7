// A progress bar for counts (STYLE §4), on stderr, only on a terminal outside CI and without --json;
// elsewhere it does nothing, so output stays one clean document or plain lines.
import cliProgress from 'cli-progress';
import { isCI } from '@clack/prompts';

export interface Progress {
  update(value: number, stage: string): void;
  stop(): void;
}

export function progressBar(total: number, options: { json?: boolean; minimum?: number } = {}): Progress {
  const enabled = !options.json && Boolean(process.stderr.isTTY) && !isCI() && total >= (options.minimum ?? 100);
  if (!enabled) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: '{bar} {value}/{total} {stage}', stream: process.stderr, hideCursor: true, clearOnComplete: false, barsize: 30 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { stage: '' });
  return {
    update: (value, stage) => bar.update(value, { stage }),
    stop: () => bar.stop(),
  };
}
