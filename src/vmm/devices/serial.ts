// 8250/16550A UART as the guest sees it at COM1/COM2. Transmit is instant (THR is always empty);
// output goes to a shared ring the VMM drains; input comes from a second ring.
import { ByteRing } from './byte-ring.ts';
import { lock, unlock } from './shared-lock.ts';

export const COM1_BASE = 0x3f8;
export const COM2_BASE = 0x2f8;
export const SERIAL_PORTS = 8;

// Register offsets.
const DATA = 0; // RBR (read) / THR (write) / DLL (DLAB)
const IER = 1; // IER / DLM (DLAB)
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

const LCR_DLAB = 0x80;
const IER_RDA = 0x01;
const IER_THRE = 0x02;
const IIR_NONE = 0x01;
const IIR_THRE = 0x02;
const IIR_RDA = 0x04;
const IIR_FIFO = 0xc0;
const FCR_ENABLE = 0x01;
const LSR_DR = 0x01;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const MCR_LOOP = 0x10;
const MSR_DEFAULT = 0xb0; // DCD | DSR | CTS

// Slots of the shared state words.
const S_LOCK = 0;
const S_IER = 1;
const S_LCR = 2;
const S_MCR = 3;
const S_SCR = 4;
const S_DLL = 5;
const S_DLM = 6;
const S_FCR = 7;
const S_THRE_PENDING = 8;
const S_IRQ_LEVEL = 9;
const STATE_WORDS = 10;

export interface SerialShared {
  state: SharedArrayBuffer;
  output: SharedArrayBuffer;
  input: SharedArrayBuffer;
}

export class Serial8250 {
  private readonly s: Int32Array;
  readonly output: ByteRing;
  readonly input: ByteRing;

  /** onIrq hears every change of the interrupt line (ISA serial IRQs are edge-triggered). */
  constructor(
    readonly shared: SerialShared,
    private readonly onIrq?: (level: boolean) => void,
  ) {
    this.s = new Int32Array(shared.state);
    this.output = new ByteRing(shared.output);
    this.input = new ByteRing(shared.input);
  }

  static create(outputCapacity = 1 << 20): Serial8250 {
    const state = new SharedArrayBuffer(STATE_WORDS * 4);
    const s = new Int32Array(state);
    s[S_LCR] = 0x03; // 8N1
    s[S_MCR] = 0x08; // OUT2
    s[S_DLL] = 0x0c; // 9600 baud
    return new Serial8250({ state, output: ByteRing.create(outputCapacity).sab, input: ByteRing.create(4096).sab });
  }

  /** A guest OUT to `offset` (0..7) within the port block. */
  write(offset: number, value: number): void {
    lock(this.s, S_LOCK);
    try {
      this.writeLocked(offset, value & 0xff);
    } finally {
      unlock(this.s, S_LOCK);
    }
    this.updateIrq();
  }

  /** A guest IN from `offset` (0..7). */
  read(offset: number): number {
    lock(this.s, S_LOCK);
    let v: number;
    try {
      v = this.readLocked(offset);
    } finally {
      unlock(this.s, S_LOCK);
    }
    this.updateIrq();
    return v;
  }

  private dlab(): boolean {
    return (this.s[S_LCR]! & LCR_DLAB) !== 0;
  }

  private writeLocked(offset: number, v: number): void {
    const s = this.s;
    switch (offset) {
      case DATA:
        if (this.dlab()) s[S_DLL] = v;
        else {
          if (s[S_MCR]! & MCR_LOOP) this.input.push(v);
          else this.output.push(v);
          s[S_THRE_PENDING] = 1;
        }
        break;
      case IER:
        if (this.dlab()) s[S_DLM] = v;
        else {
          // Enabling THRE with an empty THR raises the interrupt at once, as on real 16550s.
          if (v & IER_THRE && !(s[S_IER]! & IER_THRE)) s[S_THRE_PENDING] = 1;
          s[S_IER] = v & 0x0f;
        }
        break;
      case IIR_FCR:
        s[S_FCR] = v & FCR_ENABLE ? v & 0xc9 : 0;
        break;
      case LCR:
        s[S_LCR] = v;
        break;
      case MCR:
        s[S_MCR] = v & 0x1f;
        break;
      case SCR:
        s[S_SCR] = v;
        break;
      default: // LSR and MSR are read-only
        break;
    }
  }

  private readLocked(offset: number): number {
    const s = this.s;
    switch (offset) {
      case DATA:
        if (this.dlab()) return s[S_DLL]!;
        return this.input.available > 0 ? this.input.drainOne() : 0;
      case IER:
        return this.dlab() ? s[S_DLM]! : s[S_IER]!;
      case IIR_FCR: {
        const fifo = s[S_FCR]! & FCR_ENABLE ? IIR_FIFO : 0;
        const id = this.interruptId();
        if (id === IIR_THRE) s[S_THRE_PENDING] = 0; // reading IIR acknowledges THRE
        return id | fifo;
      }
      case LCR:
        return s[S_LCR]!;
      case MCR:
        return s[S_MCR]!;
      case LSR:
        return LSR_THRE | LSR_TEMT | (this.input.available > 0 ? LSR_DR : 0);
      case MSR: {
        const mcr = s[S_MCR]!;
        if (!(mcr & MCR_LOOP)) return MSR_DEFAULT;
        // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
        return ((mcr & 0x1) << 5) | ((mcr & 0x2) << 3) | ((mcr & 0x4) << 4) | ((mcr & 0x8) << 4);
      }
      case SCR:
        return s[S_SCR]!;
      default:
        return 0xff;
    }
  }

  private interruptId(): number {
    const ier = this.s[S_IER]!;
    if (ier & IER_RDA && this.input.available > 0) return IIR_RDA;
    if (ier & IER_THRE && this.s[S_THRE_PENDING]) return IIR_THRE;
    return IIR_NONE;
  }

  private updateIrq(): void {
    if (!this.onIrq) return;
    lock(this.s, S_LOCK);
    const level = this.interruptId() !== IIR_NONE ? 1 : 0;
    const changed = this.s[S_IRQ_LEVEL] !== level;
    this.s[S_IRQ_LEVEL] = level;
    unlock(this.s, S_LOCK);
    if (changed) this.onIrq(level === 1);
  }

  /** Host side: bytes the guest will read from RBR. */
  inject(bytes: Uint8Array): void {
    for (const b of bytes) this.input.push(b);
    this.updateIrq();
  }
}
