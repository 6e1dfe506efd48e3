// How a VM run can end: the one list the VMM's result, the scenario schema and the matchers use.
// Kept free of imports: the test side loads it without the VMM's native bindings.
export const EXIT_ACTION_NAMES = ['Shutdown', 'Fatal', 'Timeout'] as const;
export type ExitActionName = (typeof EXIT_ACTION_NAMES)[number];
