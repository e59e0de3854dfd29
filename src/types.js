/**
 * Types derived from a task module's own signatures, so `tsc` checks task names, arguments and
 * results at every call site.
 */
export {};
