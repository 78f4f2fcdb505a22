/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon API's decoders, vp_api_decode_request() and vp_api_decode_reply(), on one
 * arbitrary message each (without its NUL terminator, as the daemon passes it on). A request
 * that decodes must encode again and decode to the same method. */
#include "fuzz.h"

#include "api.h"

#include <string.h>

static void check_request(const uint8_t *data, size_t size)
{
        vp_api_request request = { 0 };
        vp_api_error error = { 0 };

        if (vp_api_decode_request((const char *) data, size, &request, &error) < 0) {
                FUZZ_CHECK(error.name && error.message[0] != '\0');
                FUZZ_CHECK(!request.method && !request.parameters);
                return;
        }
        FUZZ_CHECK(request.method && json_is_object(request.parameters));
        if (size > VP_API_MESSAGE_MAX / 8) {
                /* Escapes may grow the encoded message past VP_API_MESSAGE_MAX. */
                vp_api_request_clear(&request);
                return;
        }

        /* vp_api_encode_request() adds the interface prefix itself. */
        size_t encoded_size;
        _cleanup_free_ char *encoded = vp_api_encode_request(request.method, request.parameters, &encoded_size);
        FUZZ_CHECK(encoded);
        FUZZ_CHECK(encoded_size > 0 && encoded[encoded_size - 1] == '\0');

        vp_api_request again = { 0 };
        FUZZ_CHECK(vp_api_decode_request(encoded, encoded_size - 1, &again, &error) == 0);
        FUZZ_CHECK(strcmp(again.method, request.method) == 0);
        FUZZ_CHECK(json_equal(again.parameters, request.parameters));

        vp_api_request_clear(&again);
        vp_api_request_clear(&request);
}

static void check_reply(const uint8_t *data, size_t size)
{
        json_t *parameters = NULL;
        vp_api_error error = { 0 };

        int r = vp_api_decode_reply((const char *) data, size, &parameters, &error);
        if (r == 0) {
                FUZZ_CHECK(json_is_object(parameters));
                json_decref(parameters);
                return;
        }
        FUZZ_CHECK(r == -EREMOTE || r == -EBADMSG);
        FUZZ_CHECK(!parameters);
        if (r == -EREMOTE)
                FUZZ_CHECK(error.name != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        check_request(data, size);
        check_reply(data, size);
        return 0;
}
