/**
 * How a user types the project's commands where this code runs, for the commands that messages
 * suggest. A clone runs its TypeScript sources through its npm scripts (`npm run bench -- …`); a
 * project that installed the package runs the built binary (`npx prorec-gym bench …`). Which one
 * this is shows in this module's own file: `.ts` in a clone, `.js` once built.
 */

/** The project's commands that messages name. */
export type Command = 'bench' | 'data' | 'sim' | 'report';

/** True when this code runs from the TypeScript sources (a clone), false in the built package. */
export function runsFromSources(): boolean {
  return import.meta.url.endsWith('.ts');
}

/** The command line that runs `command` with `args` here: `npm run data -- fetch x` in a clone, `npx prorec-gym data fetch x` in a package. */
export function commandLine(command: Command, args = ''): string {
  const rest = args ? ` ${args}` : '';
  return runsFromSources() ? `npm run ${command} --${rest}` : `npx prorec-gym ${command}${rest}`;
}

/**
 * What to tell a user whose options npm kept for itself: `npm run bench --agent prorl` (without
 * `--`) makes npm read `--agent` as one of its own settings (it exports `npm_config_agent`) and pass
 * only `prorl` on. Given the command's option names (and which of them are flags), the arguments it
 * received and the environment npm ran it in: a line saying so, with the command line that was
 * meant; empty when npm took none of the command's options.
 */
export function npmDashHint(
  command: Command,
  options: { names: readonly string[]; booleans: readonly string[] },
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): string {
  const script = env.npm_lifecycle_event;
  if (!script) return '';
  const value = (name: string) => env[`npm_config_${name.replace(/-/g, '_')}`];
  const taken = options.names.filter((n) => n !== 'help' && n !== 'version' && value(n) !== undefined);
  if (taken.length === 0) return '';
  // `--agent prorl`: npm sets the setting to "true" and passes the value on as an argument.
  const positionals = args.filter((a) => !a.startsWith('-'));
  const needValues = taken.filter((n) => value(n) === 'true' && !options.booleans.includes(n));
  const spelled = taken.map((n) => {
    if (options.booleans.includes(n)) return `--${n}`;
    if (value(n) !== 'true') return `--${n} ${value(n)}`;
    return needValues.length === 1 && positionals.length === 1 ? `--${n} ${positionals[0]}` : `--${n} …`;
  });
  const rest = args.filter((a) => !(needValues.length === 1 && positionals.length === 1 && a === positionals[0]));
  const took = `npm took ${taken.map((n) => `--${n}`).join(', ')} as its own setting${taken.length === 1 ? '' : 's'}`;
  // `npm exec prorec-gym bench --agent x` (npm_lifecycle_event 'npx'): npx passes the options on.
  if (script === 'npx' || script === 'exec') return `${took}: run it as npx prorec-gym ${command} ${[...spelled, ...rest].join(' ')}`;
  const sub = script === command ? '' : `${command} `;
  return `${took}: put \`--\` before the options meant for ${command}: npm run ${script} -- ${sub}${[...spelled, ...rest].join(' ')}`;
}
