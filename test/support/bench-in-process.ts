/**
 * `prorec-gym bench ARGS` run in this process from folder `cwd`, its stdout and stderr captured:
 * what a user would see, without a child process's start-up.
 */
import { main } from '../../benchmarks/cli.ts';

export async function benchIn(cwd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const prev = process.cwd();
  process.chdir(cwd);
  try {
    const code = await main(args, { out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  } finally {
    process.chdir(prev);
  }
}
