// harness.ts: the smoke suite for one agent, from code; then its leaderboard as Markdown.
import { buildLeaderboard, codeVersion, leaderboardMarkdown, loadSuite, planRuns, runPlan } from 'prorec-gym/harness';

async function main() {
  const plan = await planRuns(loadSuite('smoke'), { agent: './lowest-ids.ts', seeds: [1, 2] });
  const report = await runPlan(plan.runs, { out: 'runs-from-code', code: codeVersion(), progress: false });
  console.log(leaderboardMarkdown(buildLeaderboard(report.results)));
}

main();
