import { describe, expect, it } from 'vitest';
import { formatSnapshot } from '../vcpu/snapshot.ts';
import { coreRegId, REG_PC, REG_SP_EL1, REG_TCR_EL1, REG_TTBR0_EL1, REG_TTBR1_EL1, snapshotFromRegs, sysRegId } from './regs.ts';

describe('arm64 register ids', () => {
  it('encodes PC and SP_EL1 as core registers at byte offsets 256 and 272', () => {
    expect(REG_PC).toBe(0x6030_0000_0010_0040n);
    expect(REG_SP_EL1).toBe(0x6030_0000_0010_0044n);
    expect(coreRegId(248)).toBe(0x6030_0000_0010_003en); // sp (SP_EL0), which the snapshot must not use
  });

  it('encodes TTBR0_EL1, TTBR1_EL1 and TCR_EL1 as sysregs 0xC100..0xC102', () => {
    expect(REG_TTBR0_EL1).toBe(0x6030_0000_0013_c100n);
    expect(REG_TTBR1_EL1).toBe(0x6030_0000_0013_c101n);
    expect(REG_TCR_EL1).toBe(0x6030_0000_0013_c102n);
    expect(sysRegId(3, 0, 2, 0, 1)).toBe(REG_TTBR1_EL1);
  });
});

describe('snapshotFromRegs', () => {
  it('maps PC, SP_EL1, TTBR1 (ptroot), TTBR0 (uptroot) and TCR_EL1', () => {
    const s = snapshotFromRegs({
      pc: 0xffff_8000_8100_1234n,
      spEl1: 0xffff_8000_8000_0000n,
      ttbr1: 0x0000_4000_8000_0000n,
      ttbr0: 0xaaaa_bbbbn,
      tcr: 0xb510_0010n,
    });
    expect(s).toStrictEqual({
      instruction_pointer: 0xffff_8000_8100_1234n,
      stack_pointer: 0xffff_8000_8000_0000n,
      page_table_root: 0x0000_4000_8000_0000n,
      user_page_table_root: 0xaaaa_bbbbn,
      tcr_el1: 0xb510_0010n,
    });
    expect(formatSnapshot(s)).toBe('ip=0xffff800081001234 sp=0xffff800080000000 ptroot=0x0000400080000000 uptroot=0x00000000aaaabbbb');
  });

  it('uses 0 for an unreadable TTBR1 and leaves the optional registers absent', () => {
    const s = snapshotFromRegs({ pc: 1n, spEl1: 2n });
    expect(s).toStrictEqual({ instruction_pointer: 1n, stack_pointer: 2n, page_table_root: 0n });
    expect(Object.keys(s)).toEqual(['instruction_pointer', 'stack_pointer', 'page_table_root']);
  });
});
