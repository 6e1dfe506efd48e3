// Case 3, console throughput over the UART: 1 MiB printed by a bare guest on COM1 (through
// schedvm's 8250 and console collection; the transmit writes queue in KVM's coalesced ring, one
// exit per full ring), against the C reference making one port-write exit per byte with nothing
// behind them (a UART without the ring).
import { Vm } from '../../src/vmm/vm.ts';
import { buildBenchGuest } from '../guests/build.ts';
import { buildKvmLoop } from '../reference/build.ts';
import { runJson } from '../proc.ts';
import { caseResult, interleave, type CaseResult, type Where } from '../stats.ts';

export async function uartThroughput(rounds: number, where: Where, bytes = 1 << 20): Promise<CaseResult> {
  const image = buildBenchGuest('console-flood');
  const cLoop = buildKvmLoop();
  const ours = async () => {
    const vm = await Vm.create({ vcpus: 1, memoryMb: 64, guest: { kind: 'bare', image, arg: bytes }, timeoutMs: 900_000, devices: { serial: ['com1'] } });
    const r = await vm.run();
    if (r.exitAction !== 'Shutdown' || r.console.com1.length !== bytes) throw new Error(`console-flood: ${r.exitAction}, ${r.console.com1.length} bytes`);
    return r.wallMs;
  };
  const reference = async () => (await runJson<{ loopMs: number }>(cLoop, [String(bytes)])).loopMs;
  const s = await interleave(rounds, ours, reference);
  return caseResult({
    name: `console: ${bytes >> 10} KiB over the UART (COM1)`,
    unit: 'ms',
    environment: where,
    ours: s.ours,
    reference: { name: 'C KVM_RUN loop, an exit per byte', samples: s.reference },
  });
}
