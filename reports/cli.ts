/**
 * `npm run report -- DIR [--title TEXT]`: writes DIR/report.html from the result files in
 * DIR/results/ (self-contained: open it in any browser, no network needed).
 * Exit codes: 0 written, 1 failure, 2 bad input (no such folder, no or invalid result files).
 */
import { describeError, exitCodeOf, UsageError } from '../core/errors.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { writeReport } from './report.ts';

export async function reportMain(args: string[], err: (text: string) => void = (t) => void process.stderr.write(t)): Promise<number> {
  try {
    const argv = await yargs(args)
      .scriptName('report')
      .usage('$0 DIR [--title TEXT]\n\nWrites DIR/report.html from DIR/results/*.json.')
      .option('title', { type: 'string', describe: 'page title' })
      .demandCommand(1, 1, 'give one result folder (the --out of a bench run)', 'give one result folder')
      .strict()
      .help()
      .exitProcess(false)
      .fail((msg, e) => {
        throw e ?? new UsageError(msg);
      })
      .parseAsync();
    if ((argv as { help?: boolean }).help) return 0;
    const dir = String(argv._[0]);
    if (!existsSync(path.join(dir, 'results')))
      throw new UsageError(`${dir}: no results folder (${path.join(dir, 'results')}); run the benchmark with --out ${dir} first`);
    const { file, bytes } = await writeReport(dir, { title: argv.title });
    err(`wrote ${file} (${(bytes / 1024).toFixed(0)} KiB)\n`);
    return 0;
  } catch (e) {
    err(describeError('report', e));
    return exitCodeOf(e);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  reportMain(hideBin(process.argv)).then((code) => process.exit(code));
}
