// Run in a fresh process by the 1-vCPU memory case: the floor under a VMM of two threads with
// JavaScript on both (the caller's, and vCPU 0's worker): node itself, one idle worker thread,
// and koffi loaded on each, with nothing of schedvm. Prints the process's RSS in kB.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const rssKb = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
const koffiPath = createRequire(import.meta.url).resolve('koffi');
const load = `require(${JSON.stringify(koffiPath)}).load('libc.so.6');`;
createRequire(import.meta.url)(koffiPath).load('libc.so.6');
const worker = new Worker(`${load} require('node:worker_threads').parentPort.postMessage('ready'); setInterval(() => {}, 1 << 30);`, { eval: true, execArgv: [] });
await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
await new Promise((r) => setTimeout(r, 1000)); // settle, as the VM probe samples 1 s into its run
const rss = rssKb();
await worker.terminate();
console.log(JSON.stringify({ rssKb: rss }));
