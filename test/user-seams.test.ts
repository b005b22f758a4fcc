/**
 * The smaller seams of the user journeys: commands named as the user types them where the code
 * runs (a clone's npm scripts, an installed package's binary), a forgotten `--` after
 * `npm run bench`, a fetch from a machine that cannot reach the host, the no-data message.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { commandLine, npmDashHint, runsFromSources } from '../core/launcher.ts';
import { main as benchMain } from '../benchmarks/cli.ts';
import { fetchAll, HostUnreachableError } from '../data/fetch.ts';
import { runCli as dataCli } from '../data/cli.ts';
import { DATASETS } from '../data/registry.ts';
import { searchPlaces } from '../data/sources.ts';

const work = mkdtempSync(path.join(tmpdir(), 'prorec-seams-'));
after(() => rmSync(work, { recursive: true, force: true }));

function capture() {
  const io = { out: '', err: '' };
  return { io, sink: { out: (t: string) => void (io.out += t), err: (t: string) => void (io.err += t) } };
}

test('commands are named as a clone runs them here (the sources), and as a package would', () => {
  assert.equal(runsFromSources(), true);
  assert.equal(commandLine('data', 'fetch prorl-release'), 'npm run data -- fetch prorl-release');
  assert.equal(commandLine('bench', 'leaderboard runs'), 'npm run bench -- leaderboard runs');
  for (const name of ['ml-1m', 'steam', 'books'] as const) {
    assert.match(DATASETS[name].howToGet, /^npm run data -- fetch prorl-release /);
    assert.doesNotMatch(DATASETS[name].howToGet, /npx prorec-gym/);
  }
});

test('a forgotten -- after npm run bench: the error says npm kept the options, with the line that was meant', async () => {
  const options = { names: ['agent', 'seeds', 'force', 'help'], booleans: ['force', 'help'] };
  const npm = (vars: Record<string, string>) => ({ npm_lifecycle_event: 'bench', ...vars });
  assert.equal(npmDashHint('bench', options, ['prorl'], {}), '', 'not run by npm');
  assert.equal(npmDashHint('bench', options, ['prorl'], npm({})), '', 'npm took none of the options');
  assert.equal(
    npmDashHint('bench', options, ['prorl'], npm({ npm_config_agent: 'true' })),
    'npm took --agent as its own setting: put `--` before the options meant for bench: npm run bench -- --agent prorl',
  );
  assert.match(npmDashHint('bench', options, [], npm({ npm_config_agent: 'prorl' })), /npm run bench -- --agent prorl$/, '--agent=prorl');
  assert.match(
    npmDashHint('bench', options, ['prorl', '3'], npm({ npm_config_agent: 'true', npm_config_seeds: 'true', npm_config_force: 'true' })),
    /npm took --agent, --seeds, --force as its own settings: .*npm run bench -- --agent … --seeds … --force prorl 3$/,
  );
  assert.match(
    npmDashHint('bench', options, ['prorl'], { npm_lifecycle_event: 'prorec-gym', npm_config_agent: 'true' }),
    /npm run prorec-gym -- bench --agent prorl$/,
  );
  assert.equal(
    npmDashHint('bench', options, ['./mine.ts'], { npm_lifecycle_event: 'npx', npm_config_agent: 'true' }),
    'npm took --agent as its own setting: run it as npx prorec-gym bench --agent ./mine.ts',
    '`npm exec prorec-gym bench --agent ./mine.ts`',
  );

  const saved = { ...process.env };
  Object.assign(process.env, npm({ npm_config_agent: 'true' }));
  try {
    const { io, sink } = capture();
    assert.equal(await benchMain(['prorl'], sink), 2);
    assert.match(
      io.err,
      /Unknown argument: prorl\nnpm took --agent as its own setting: put `--` before the options meant for bench: npm run bench -- --agent prorl\n/,
    );
  } finally {
    for (const k of ['npm_lifecycle_event', 'npm_config_agent']) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
});

/** A local port nothing listens on: connecting is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

test('a fetch from a machine that cannot reach the host says so, with the alternatives, and leaves no empty folder', async () => {
  const port = await closedPort();
  const dir = path.join(work, 'cache/raw/ml-1m');
  const spec = { url: `http://127.0.0.1:${port}/ml-1m.zip`, fileName: 'ml-1m.zip', sha256: 'a'.repeat(64), checksumSource: 'test' };
  await assert.rejects(fetchAll([spec], dir, { log: () => {}, retryDelayMs: 1, attempts: 2 }), (e: unknown) => {
    assert.ok(e instanceof HostUnreachableError, String(e));
    assert.match(
      e.message,
      new RegExp(
        `ml-1m\\.zip: this machine cannot reach 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\\. Alternatives: download .* and copy it to ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/ml-1m\\.zip`,
      ),
    );
    assert.doesNotMatch(e.message, /run fetch again to resume/);
    return true;
  });
  assert.equal(existsSync(path.join(work, 'cache')), false, 'the folders the fetch created are gone');

  // The command adds the other ways to get the dataset.
  const { io, sink } = capture();
  const code = await dataCli(['fetch', 'ml-1m', '--cache-dir', path.join(work, 'cli-cache'), '--base-url', `http://127.0.0.1:${port}`], sink);
  assert.equal(code, 1);
  assert.match(
    io.err,
    /this machine cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)\. Alternatives: .*; other ways to get ml-1m: npm run data -- fetch prorl-release .*--data-dir .*synthetic-v0 needs no data files/,
  );
  assert.equal(existsSync(path.join(work, 'cli-cache')), false);
});

test('the places searched for data: the release snapshot beside a clone only from a clone (or PRORL_SNAPSHOT_DIR)', () => {
  const saved = process.env.PRORL_SNAPSHOT_DIR;
  delete process.env.PRORL_SNAPSHOT_DIR;
  try {
    const places = searchPlaces('ml-1m', { cacheDir: work });
    assert.ok(
      places.some((p) => p.via === 'release snapshot'),
      'from the sources: the snapshot beside the clone',
    );
  } finally {
    if (saved !== undefined) process.env.PRORL_SNAPSHOT_DIR = saved;
  }
});
