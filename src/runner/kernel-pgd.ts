// The guest kernel's own page-table root, found without stopping a vCPU: init_top_pgt maps
// every kernel address (the direct map, vmalloc, per-CPU areas, the image), and it lies in the
// kernel image, whose physical address is its virtual one less __START_KERNEL_map plus
// phys_base (from VMCOREINFO). x86_64.
export const KERNEL_PGD_SYMBOL = 'init_top_pgt';
const START_KERNEL_MAP = 0xffff_ffff_8000_0000n;

/** init_top_pgt's guest-physical address (a CR3 value for kernel addresses), or undefined until both are known. */
export function kernelPageTableRoot(symbols: ReadonlyMap<string, bigint>, physBase: bigint | undefined): bigint | undefined {
  const va = symbols.get(KERNEL_PGD_SYMBOL);
  return va === undefined || physBase === undefined ? undefined : va - START_KERNEL_MAP + physBase;
}
