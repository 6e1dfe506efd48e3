// Run in a fresh process by the thread-memory case: what one worker thread holds before it runs
// a vCPU. Starts COUNT idle worker threads, each `empty` (node's worker runtime alone) or `vmm`
// (having loaded the vCPU thread's module, as a pooled vCPU thread does), and prints the RSS
// they added per thread, in kB. usage: thread-memory.ts COUNT empty|vmm
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { entryUrl } from '../../src/launch/bundle.mjs';

const count = Number(process.argv[2]);
const kind = process.argv[3];
if (!(count > 0) || (kind !== 'empty' && kind !== 'vmm')) throw new Error('usage: thread-memory.ts COUNT empty|vmm');
const rssKb = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

const load = kind === 'vmm' ? `await import(${JSON.stringify(await entryUrl('worker'))});` : '';
const body = `import { parentPort } from 'node:worker_threads'; ${load} parentPort.postMessage('ready'); setInterval(() => {}, 1 << 30);`;
const before = rssKb();
const workers = Array.from({ length: count }, () => new Worker(new URL(`data:text/javascript,${encodeURIComponent(body)}`), { execArgv: [] }));
await Promise.all(workers.map((w) => new Promise((resolve, reject) => w.once('message', resolve).once('error', reject))));
await new Promise((r) => setTimeout(r, 500)); // settle: late allocations of a thread's start
const perThreadKb = (rssKb() - before) / count;
await Promise.all(workers.map((w) => w.terminate()));
console.log(JSON.stringify({ perThreadKb }));
