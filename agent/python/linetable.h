/* SPDX-License-Identifier: MIT */
/* Bytecode offset to source line, for the line tables of CPython 3.6 and newer, decoded exactly as
 * the interpreter's own PyCode_Addr2Line() does. The table is read from another process: it is
 * untrusted, every read is bounded by its length. */
#ifndef PYPROF_LINETABLE_H
#define PYPROF_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

/* Longest table accepted; larger is treated as garbage read from the target. */
#define LINETABLE_MAX_LEN (4u << 20)

/*
 * Line of the instruction at byte offset addrq of a code object, as PyCode_Addr2Line() computes it.
 *
 * version:     (major << 8) | minor, 0x0306 or newer (3.11 onwards share one format).
 * table, len:  co_lnotab (3.6 to 3.9), co_linetable (3.10, 3.11 and later: different formats).
 * firstlineno: co_firstlineno.
 * addrq:       byte offset of the instruction in the bytecode; the caller converts:
 *              3.6-3.9 f_lasti as is (already bytes); 3.10 f_lasti * 2 (f_lasti counts code
 *              units); 3.11+ (instruction pointer - first instruction of the code) in bytes.
 *              A negative addrq means "the frame has not started": CPython answers
 *              co_firstlineno, and so does this function (3.6-3.9 by the loop, 3.10+ explicitly).
 *
 * Returns 0 and sets *ret_line, or:
 *   -ENOENT      the instruction has no line (3.10+: "no line" entries, and addrq past the end
 *                of the table, where CPython returns -1); the caller falls back (for example
 *                to co_firstlineno). 3.6-3.9 never have this case: past the end they answer
 *                the last line, as CPython does.
 *   -EINVAL      malformed table (odd-length lnotab, truncated entry or varint, varint too
 *                long, line out of int range), len > LINETABLE_MAX_LEN, NULL arguments.
 *   -EOPNOTSUPP  unknown version (before 3.6, or not 3.x).
 * The line may be 0: 3.11+ give module code a RESUME on line 0, and CPython reports 0 there.
 */
int linetable__addr2line(unsigned int version, const uint8_t *table, size_t len, int firstlineno,
			 int addrq, int *ret_line);

#endif /* PYPROF_LINETABLE_H */
