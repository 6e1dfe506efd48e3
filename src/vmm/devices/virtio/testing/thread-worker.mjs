// Entry of the threads test's workers: TypeScript through tsx, as the vCPU threads load it.
import { register } from 'tsx/esm/api';

register();
await import('./thread-worker.ts');
