// Entry of the threads test's workers: TypeScript through tsx (the vCPU threads' fallback loader).
import { register } from 'tsx/esm/api';

register();
await import('./thread-worker.ts');
