/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vmpackd API decoder and encoder as pure functions: every malformed request gets a
 * named error and a message, and a valid one comes back with checked parameters. Also the
 * instance name rule, which the daemon and the CLI share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api.h"
#include "instance.h"

/* Decode a request given as a C string and return the error name, or NULL on success. */
static const char *decode_error(const char *text)
{
        static vp_api_error error;
        vp_api_request request = {};

        error = (vp_api_error) {};
        int r = vp_api_decode_request(text, strlen(text), &request, &error);
        if (r == 0) {
                vp_api_request_clear(&request);
                return NULL;
        }
        assert_int_equal(r, -EINVAL);
        assert_non_null(error.name);
        assert_true(strlen(error.message) > 0);
        return error.name;
}

static void api_valid_request(void **state)
{
        const char *text = "{\"method\":\"io.bheem.vmpack.Install\",\"parameters\":"
                           "{\"image\":\"shell\",\"name\":\"a1\",\"data_size\":16777216}}";
        vp_api_request request = {};
        vp_api_error error = {};

        assert_int_equal(vp_api_decode_request(text, strlen(text), &request, &error), 0);
        assert_string_equal(request.method, "Install");
        assert_string_equal(json_string_value(json_object_get(request.parameters, "name")), "a1");
        assert_int_equal(json_integer_value(json_object_get(request.parameters, "data_size")), 16777216);
        vp_api_request_clear(&request);
}

static void api_parameters_optional(void **state)
{
        assert_null(decode_error("{\"method\":\"io.bheem.vmpack.List\"}"));
        assert_null(decode_error("{\"method\":\"io.bheem.vmpack.Ps\",\"parameters\":{}}"));
}

static void api_suspend_and_resume(void **state)
{
        assert_null(decode_error("{\"method\":\"io.bheem.vmpack.Suspend\",\"parameters\":{\"name\":\"a1\"}}"));
        assert_null(decode_error("{\"method\":\"io.bheem.vmpack.Resume\",\"parameters\":{\"name\":\"a1\"}}"));
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Suspend\"}"), VP_API_ERROR_INVALID_PARAMETER);
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Resume\",\"parameters\":"
                                         "{\"name\":\"a1\",\"all\":true}}"),
                            VP_API_ERROR_INVALID_PARAMETER);
}

static void api_session(void **state)
{
        assert_null(decode_error("{\"method\":\"io.bheem.vmpack.Start\",\"parameters\":"
                                 "{\"name\":\"a1\",\"session\":{\"DISPLAY\":\":0\"}}}"));
        assert_null(decode_error("{\"method\":\"io.bheem.vmpack.Resume\",\"parameters\":"
                                 "{\"name\":\"a1\",\"session\":{}}}"));
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Start\",\"parameters\":"
                                         "{\"name\":\"a1\",\"session\":{\"DISPLAY\":0}}}"),
                            VP_API_ERROR_INVALID_PARAMETER);
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Start\",\"parameters\":"
                                         "{\"name\":\"a1\",\"session\":[\"DISPLAY=:0\"]}}"),
                            VP_API_ERROR_INVALID_PARAMETER);

        /* The daemon takes only the session variables, as NAME=VALUE. */
        char **strv = NULL;
        vp_error err = {};
        json_t *session = json_pack("{s:s, s:s}", "DISPLAY", ":1", "PULSE_SERVER", "unix:/run/user/1000/pulse/native");
        assert_int_equal(vp_api_session_to_strv(session, &strv, &err), 0);
        assert_string_equal(strv[0], "DISPLAY=:1");
        assert_string_equal(strv[1], "PULSE_SERVER=unix:/run/user/1000/pulse/native");
        assert_null(strv[2]);
        strv_free(strv);
        json_decref(session);

        session = json_pack("{s:s}", "LD_PRELOAD", "/tmp/x.so");
        assert_int_equal(vp_api_session_to_strv(session, &strv, &err), -EINVAL);
        assert_non_null(strstr(err.message, "LD_PRELOAD"));
        json_decref(session);
}

static void api_malformed_json(void **state)
{
        assert_string_equal(decode_error("{\"method\":"), VP_API_ERROR_INVALID_REQUEST);
        assert_string_equal(decode_error(""), VP_API_ERROR_INVALID_REQUEST);
        assert_string_equal(decode_error("\xff\xfe garbage"), VP_API_ERROR_INVALID_REQUEST);
        /* Duplicate keys would let a checked value hide a second one. */
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.List\",\"method\":\"io.bheem.vmpack.Ps\"}"),
                            VP_API_ERROR_INVALID_REQUEST);
}

static void api_not_an_object(void **state)
{
        assert_string_equal(decode_error("[1,2]"), VP_API_ERROR_INVALID_REQUEST);
        assert_string_equal(decode_error("\"io.bheem.vmpack.List\""), VP_API_ERROR_INVALID_REQUEST);
        assert_string_equal(decode_error("{\"parameters\":{}}"), VP_API_ERROR_INVALID_REQUEST);
        assert_string_equal(decode_error("{\"method\":42}"), VP_API_ERROR_INVALID_REQUEST);
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.List\",\"parameters\":[]}"),
                            VP_API_ERROR_INVALID_REQUEST);
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.List\",\"more\":1}"),
                            VP_API_ERROR_INVALID_REQUEST);
}

static void api_unknown_method(void **state)
{
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Reboot\"}"), VP_API_ERROR_METHOD_NOT_FOUND);
        assert_string_equal(decode_error("{\"method\":\"List\"}"), VP_API_ERROR_METHOD_NOT_FOUND);
        assert_string_equal(decode_error("{\"method\":\"org.other.List\"}"), VP_API_ERROR_METHOD_NOT_FOUND);
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.\"}"), VP_API_ERROR_METHOD_NOT_FOUND);
}

static void api_wrong_types(void **state)
{
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Info\",\"parameters\":{\"name\":1}}"),
                            VP_API_ERROR_INVALID_PARAMETER);
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Uninstall\",\"parameters\":"
                                         "{\"name\":\"a\",\"purge\":\"yes\"}}"),
                            VP_API_ERROR_INVALID_PARAMETER);
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Start\",\"parameters\":"
                                         "{\"name\":\"a\",\"arguments\":[\"x\",2]}}"),
                            VP_API_ERROR_INVALID_PARAMETER);
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Stop\",\"parameters\":"
                                         "{\"name\":\"a\",\"timeout\":-1}}"),
                            VP_API_ERROR_INVALID_PARAMETER);
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Stop\",\"parameters\":"
                                         "{\"name\":\"a\",\"timeout\":1.5}}"),
                            VP_API_ERROR_INVALID_PARAMETER);
        /* A NUL inside a string would cut the name short in C. */
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Info\",\"parameters\":{\"name\":\"a\\u0000b\"}}"),
                            VP_API_ERROR_INVALID_REQUEST);
}

static void api_missing_and_unknown_parameters(void **state)
{
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Install\",\"parameters\":{\"name\":\"a\"}}"),
                            VP_API_ERROR_INVALID_PARAMETER);
        assert_string_equal(decode_error("{\"method\":\"io.bheem.vmpack.Info\",\"parameters\":"
                                         "{\"name\":\"a\",\"verbose\":true}}"),
                            VP_API_ERROR_INVALID_PARAMETER);
}

static void api_oversized_message(void **state)
{
        size_t size = VP_API_MESSAGE_MAX + 16;
        char *text = malloc(size);
        vp_api_request request = {};
        vp_api_error error = {};

        assert_non_null(text);
        memset(text, ' ', size);
        assert_int_equal(vp_api_decode_request(text, size, &request, &error), -EINVAL);
        assert_string_equal(error.name, VP_API_ERROR_MESSAGE_TOO_LARGE);
        free(text);
}

static void api_long_string_rejected(void **state)
{
        char *name = malloc(5000);
        char *text;

        assert_non_null(name);
        memset(name, 'a', 4999);
        name[4999] = '\0';
        text = vp_strdup_printf("{\"method\":\"io.bheem.vmpack.Info\",\"parameters\":{\"name\":\"%s\"}}", name);
        assert_string_equal(decode_error(text), VP_API_ERROR_INVALID_PARAMETER);
        free(text);
        free(name);
}

static void api_encode_round_trip(void **state)
{
        json_t *parameters = json_pack("{s:s}", "name", "a1");
        vp_api_request request = {};
        vp_api_error error = {};
        size_t size = 0;
        char *text = vp_api_encode_request("Info", parameters, &size);

        assert_non_null(text);
        assert_int_equal(text[size - 1], '\0');
        assert_int_equal(vp_api_decode_request(text, size - 1, &request, &error), 0);
        assert_string_equal(request.method, "Info");
        vp_api_request_clear(&request);
        free(text);
        json_decref(parameters);
}

static void api_decode_reply(void **state)
{
        json_t *parameters = NULL;
        vp_api_error error = {};
        size_t size = 0;
        char *text = vp_api_encode_error(VP_API_ERROR_INSTANCE_NOT_FOUND, "instance 'x' not found", &size);

        assert_non_null(text);
        assert_int_equal(vp_api_decode_reply(text, size - 1, &parameters, &error), -EREMOTE);
        assert_string_equal(error.name, VP_API_ERROR_INSTANCE_NOT_FOUND);
        assert_string_equal(error.message, "instance 'x' not found");
        free(text);

        json_t *reply = json_pack("{s:i}", "count", 3);
        text = vp_api_encode_reply(reply, &size);
        assert_non_null(text);
        assert_int_equal(vp_api_decode_reply(text, size - 1, &parameters, &error), 0);
        assert_int_equal(json_integer_value(json_object_get(parameters, "count")), 3);
        json_decref(parameters);
        json_decref(reply);
        free(text);

        assert_int_equal(vp_api_decode_reply("[]", 2, &parameters, &error), -EBADMSG);
        assert_int_equal(vp_api_decode_reply("{\"error\":5}", 11, &parameters, &error), -EBADMSG);
}

static void instance_name_rule(void **state)
{
        assert_true(vp_instance_name_valid("a"));
        assert_true(vp_instance_name_valid("WorkFox"));
        assert_true(vp_instance_name_valid("fox-2.work_1"));
        assert_false(vp_instance_name_valid(""));
        assert_false(vp_instance_name_valid(NULL));
        assert_false(vp_instance_name_valid("-fox"));
        assert_false(vp_instance_name_valid(".fox"));
        assert_false(vp_instance_name_valid("fox/../x"));
        assert_false(vp_instance_name_valid("fox box"));
        assert_false(vp_instance_name_valid("f\xc3\xb6x"));

        char name[66];
        memset(name, 'a', 65);
        name[65] = '\0';
        assert_false(vp_instance_name_valid(name));
        name[64] = '\0';
        assert_true(vp_instance_name_valid(name));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(api_valid_request),
                cmocka_unit_test(api_parameters_optional),
                cmocka_unit_test(api_suspend_and_resume),
                cmocka_unit_test(api_session),
                cmocka_unit_test(api_malformed_json),
                cmocka_unit_test(api_not_an_object),
                cmocka_unit_test(api_unknown_method),
                cmocka_unit_test(api_wrong_types),
                cmocka_unit_test(api_missing_and_unknown_parameters),
                cmocka_unit_test(api_oversized_message),
                cmocka_unit_test(api_long_string_rejected),
                cmocka_unit_test(api_encode_round_trip),
                cmocka_unit_test(api_decode_reply),
                cmocka_unit_test(instance_name_rule),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
