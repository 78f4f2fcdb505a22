/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's handling of QMP output while it stops a VM, vp_qmp_count_returns(). The input is
 * one received chunk, NUL-terminated as the event loop does after recv(). */
#include "fuzz.h"

#include "vmrun-internal.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size >= 4096)
                return 0; /* the event loop receives at most 4095 bytes at a time */

        _cleanup_free_ char *text = fuzz_string(data, size);
        size_t count = vp_qmp_count_returns(text);

        /* Matches may share a quote ("return"return" counts twice), so each one after the
         * first takes at least 7 more bytes. */
        FUZZ_CHECK(count == 0 || count * 7 + 1 <= strlen(text));
        FUZZ_CHECK((count == 0) == (strstr(text, "\"return\"") == NULL));
        return 0;
}
