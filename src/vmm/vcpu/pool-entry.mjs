// The vCPU pool's thread module: threads load TypeScript through tsx, as the CLI does.
import { register } from 'tsx/esm/api';

register();
const { default: runTask } = await import('./worker.ts');
export default runTask;
