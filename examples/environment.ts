// environment.ts: one episode by hand, then a batch of 256 episodes stepped together.
import { make, makeVec } from 'prorec-gym/envs';

async function main() {
  const env = await make('synthetic-v0', { maxLength: 10, weights: { ioi: 1, ior: 1, ctr: 1 } });
  const { observation } = env.reset({ seed: 1 }); // or options: { caseIndex: 3, split: 'valid' }
  const item = observation.actionMask.indexOf(1); // actions: item ids, or STOP = env.actionSpace.stop
  const { reward, info } = env.step(item);
  // info.ioi, info.ior, info.ctr: the raw reward components; info.episode: the summary when the episode ends
  console.log(`item ${item}: reward ${reward.toFixed(3)} (IoI ${info.ioi.toFixed(3)}, IoR ${info.ior}, CTR ${info.ctr.toFixed(3)})`);
  const end = env.step(env.actionSpace.stop);
  console.log(`STOP: terminated ${end.terminated}, path ${JSON.stringify(end.info.episode?.path)}`);

  const vec = await makeVec('synthetic-v0', 256); // one simulator call per step for all 256
  const { observations } = vec.reset({ seed: 1 });
  const stopped = vec.step(new Int32Array(observations.length).fill(vec.actionSpace.stop));
  console.log(`${stopped.infos.filter((i) => i.episode).length} of ${vec.numEnvs} episodes ended with STOP`);
}

main();
