// The vCPU pool's thread module: threads load the vCPU code as the CLI does (src/launch/bundle.mjs).
import { entryUrl } from '../../launch/bundle.mjs';

const { default: runTask } = await import(await entryUrl('worker'));
export default runTask;
