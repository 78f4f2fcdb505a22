/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Calls from the instance verbs to vmpackd. */
#include "vmpack.h"

#include "api.h"
#include "client.h"

#include <getopt.h>
#include <string.h>

int vp_daemon_call(const char *verb, const char *method, json_t *parameters, json_t **ret)
{
        vp_client client = { .fd = -EBADF };
        vp_api_error api_error = {};
        vp_error err = {};
        int r;

        r = vp_client_connect(&client, &err);
        if (r < 0) {
                vp_client_close(&client);
                return vp_fail(verb, &err);
        }
        r = vp_client_call(&client, method, parameters, ret, &api_error, &err);
        vp_client_close(&client);
        if (r < 0)
                return vp_fail(verb, &err);
        return 0;
}

void vp_print_json(json_t *value)
{
        char *text = json_dumps(value, JSON_INDENT(2) | JSON_SORT_KEYS);

        if (text)
                puts(text);
        free(text);
}

const char *vp_json_string(json_t *object, const char *key, const char *fallback)
{
        const char *value = json_string_value(json_object_get(object, key));

        return value ? value : fallback;
}

int vp_instance_verb(int argc, char **argv, const char *help, const char *method, const char *list_verb,
                     const char *done)
{
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *verb = argv[0];
        json_t *reply = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        fputs(help, stdout);
                        return 0;
                default:
                        return vp_option_error(verb, argv, "h", options);
                }
        }
        if (argc - optind != 1) {
                vp_log_error("%s: expected one instance NAME (run 'vmpack %s')", verb, list_verb);
                return 2;
        }

        json_t *parameters = json_pack("{s:s}", "name", argv[optind]);
        /* A resumed VM's window and sound go to this session, as for Start. */
        if (strcmp(method, "Resume") == 0)
                json_object_set_new(parameters, "session", vp_api_session_from_environment());
        int r = vp_daemon_call(verb, method, parameters, &reply);
        json_decref(parameters);
        if (r != 0)
                return r;
        printf("%s %s\n", done, argv[optind]);
        json_decref(reply);
        return 0;
}
