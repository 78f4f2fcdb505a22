/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared parts of the libFuzzer targets. Each target defines LLVMFuzzerTestOneInput, which
 * libFuzzer calls once per input. A crash, a sanitizer report or a failed FUZZ_CHECK is a
 * finding.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Abort with the failed condition, so libFuzzer saves the input as a crash. */
#define FUZZ_CHECK(condition)                                                                              \
        do {                                                                                               \
                if (!(condition)) {                                                                        \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition);      \
                        abort();                                                                           \
                }                                                                                          \
        } while (0)

/* Copy the input into a NUL-terminated string. Embedded NUL bytes end the string early,
 * as they do for the C parsers under test. */
char *fuzz_string(const uint8_t *data, size_t size);

/* Return a private directory under $TMPDIR (or /tmp), created on the first call and removed
 * when the fuzzer exits normally. A crash leaves it behind. */
const char *fuzz_temp_dir(void);

/* Write size bytes to dir/name, replacing the file. Aborts when the write fails, because
 * the target cannot run without it. */
void fuzz_write_file(const char *dir, const char *name, const void *data, size_t size);
