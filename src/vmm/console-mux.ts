// The guest's consoles (COM1, COM2, the virtio-console's hvc0): their bytes drained into text per
// port, decoded across chunk boundaries, and handed to the caller's onConsole as they arrive.
import type { ConsolePort } from './config.ts';
import { Serial8250 } from './devices/serial.ts';

const PORTS = ['com1', 'com2', 'hvc0'] as const;

export class ConsoleMux {
  readonly com1 = Serial8250.create();
  readonly com2 = Serial8250.create();
  private readonly text: Record<ConsolePort, string> = { com1: '', com2: '', hvc0: '' };
  private readonly decoders = { com1: new TextDecoder(), com2: new TextDecoder(), hvc0: new TextDecoder() };

  constructor(
    /** hvc0's pending bytes (the virtio-console's), when the VM has one. */
    private readonly drainHvc0: () => Uint8Array = () => new Uint8Array(0),
    private readonly onConsole?: (port: ConsolePort, text: string) => void,
  ) {}

  /** Takes what every port printed since the last pump; `final` flushes partial characters. */
  pump(final = false): void {
    for (const port of PORTS) {
      const bytes = port === 'hvc0' ? this.drainHvc0() : this[port].output.drain();
      const text = this.decoders[port].decode(bytes, { stream: !final });
      if (text) {
        this.text[port] += text;
        this.onConsole?.(port, text);
      }
    }
  }

  /** Everything printed so far, per port. */
  snapshot(): Record<ConsolePort, string> {
    return { ...this.text };
  }
}
