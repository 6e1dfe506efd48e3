// The i8042 keyboard controller, as little of it as Linux's driver needs to find one (with
// i8042.dumbkbd it never talks to the keyboard) and as the reset line needs: the status port,
// controller commands with a one-byte answer, the command byte (CTR), and 0xFE, the CPU reset.
// Before this the controller answered 0 to everything, so Linux polled for a CTR byte that never
// came, 10000 status reads each time: 1.4 s of every boot under the sandbox's TCG.
//
// Each vCPU thread has its own: Linux issues a command and reads its answer under i8042_lock, on
// one CPU. Only the CTR is state a second CPU could read back, and nothing here acts on it.
// There is no AUX (mouse) port: Linux guests boot with i8042.noaux and i8042.nomux (BASE_CMDLINE),
// without which its AUX loop test would poll for an answer that never comes.

export const I8042_DATA_PORT = 0x60;
export const I8042_CMD_PORT = 0x64;

const CMD_READ_CTR = 0x20;
const CMD_WRITE_CTR = 0x60;
const CMD_AUX_TEST = 0xa9;
const CMD_SELF_TEST = 0xaa;
const CMD_KBD_TEST = 0xab;
const CMD_READ_OUTPUT_PORT = 0xd0;
const CMD_WRITE_OUTPUT_PORT = 0xd1;
const CMD_RESET_CPU = 0xfe;

const SELF_TEST_PASSED = 0x55;
const INTERFACE_TEST_PASSED = 0x00;
/** An interface test's "clock line stuck low": there is no AUX port. */
const AUX_ABSENT = 0x01;
/** The output port: the reset line not asserted (bit 0), A20 on (bit 1). */
const OUTPUT_PORT = 0x03;

const STATUS_OUTPUT_FULL = 0x01;
/** The system flag: the controller passed its power-on self-test. */
const STATUS_SYSTEM = 0x04;
/** The keyboard is not inhibited: without it Linux warns "Keylock active". */
const STATUS_UNLOCKED = 0x10;

/** What firmware leaves: keyboard interrupt on, system flag, scancode translation. */
const CTR_DEFAULT = 0x45;

export class I8042 {
  private ctr = CTR_DEFAULT;
  private output: number | undefined;
  /** The data port's next write: the CTR, the output port, or (undefined) a keyboard byte. */
  private pending: 'ctr' | 'output-port' | undefined;

  readStatus(): number {
    return STATUS_SYSTEM | STATUS_UNLOCKED | (this.output === undefined ? 0 : STATUS_OUTPUT_FULL);
  }

  /** The output buffer, emptied; 0 when there is nothing in it. */
  readData(): number {
    const v = this.output ?? 0;
    this.output = undefined;
    return v;
  }

  /** A controller command; true for the CPU reset. */
  writeCommand(cmd: number): boolean {
    this.pending = undefined;
    switch (cmd) {
      case CMD_READ_CTR:
        this.output = this.ctr;
        break;
      case CMD_WRITE_CTR:
        this.pending = 'ctr';
        break;
      case CMD_WRITE_OUTPUT_PORT:
        this.pending = 'output-port';
        break;
      case CMD_READ_OUTPUT_PORT:
        this.output = OUTPUT_PORT;
        break;
      case CMD_SELF_TEST:
        this.output = SELF_TEST_PASSED;
        break;
      case CMD_KBD_TEST:
        this.output = INTERFACE_TEST_PASSED;
        break;
      case CMD_AUX_TEST:
        this.output = AUX_ABSENT;
        break;
      case CMD_RESET_CPU:
        return true;
      default:
        break; // enable/disable a port, and the rest: nothing to model
    }
    return false;
  }

  /** A data byte: the CTR or output port a command asked for; a keyboard byte is dropped. */
  writeData(value: number): boolean {
    const pending = this.pending;
    this.pending = undefined;
    if (pending === 'ctr') this.ctr = value;
    // Output port bit 0 low pulses the reset line, as 0xFE does.
    return pending === 'output-port' && (value & 0x01) === 0;
  }
}
