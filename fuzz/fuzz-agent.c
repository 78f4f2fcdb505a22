/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The host's decoder for guest agent messages, vp_agent_decode(). The guest controls every
 * byte of these lines. The input is one line, as the event loop passes it on: NUL-terminated
 * and without its newline. */
#include "fuzz.h"

#include "vmrun-internal.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size >= VP_AGENT_LINE_MAX)
                return 0; /* the event loop drops longer lines before decoding */

        _cleanup_free_ char *line = fuzz_string(data, size);
        vp_agent_event e = { .type = VP_AGENT_EVENT_NONE, .status = -1 };

        int r = vp_agent_decode(line, &e);
        if (r < 0) {
                FUZZ_CHECK(r == -EBADMSG || r == -ENOMEM);
                FUZZ_CHECK(e.type == VP_AGENT_EVENT_NONE && e.status == -1 && !e.message);
                return 0;
        }

        switch (e.type) {
        case VP_AGENT_EVENT_READY:
                FUZZ_CHECK(!e.message);
                break;
        case VP_AGENT_EVENT_EXIT:
                FUZZ_CHECK(e.status >= 0 && e.status <= 255);
                FUZZ_CHECK(e.stdout_bytes <= INT64_MAX && e.stderr_bytes <= INT64_MAX);
                FUZZ_CHECK(!e.message);
                break;
        case VP_AGENT_EVENT_ERROR:
                FUZZ_CHECK(e.status >= 1 && e.status <= 255);
                FUZZ_CHECK(e.message && strlen(e.message) <= 1024);
                break;
        default:
                FUZZ_CHECK(!"unknown event type");
        }
        free(e.message);
        return 0;
}
