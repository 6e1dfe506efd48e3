// vCPU worker threads load TypeScript through tsx, as the CLI does.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
