/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vmpack-init's guest configuration parser, init_config_parse(), on arbitrary fw_cfg text.
 * It is built from src/vmpack-init/config.c alone, as the guest links it. */
#include "fuzz.h"

#include "../src/vmpack-init/init.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        init_config c;
        char error[256] = "";

        if (init_config_parse((const char *) data, size, &c, error, sizeof(error)) < 0) {
                FUZZ_CHECK(error[0] != '\0');
                return 0;
        }

        /* What init relies on after a successful parse. */
        FUZZ_CHECK(c.root && c.root[0] == '/');
        FUZZ_CHECK(c.hostname && c.user && c.home && c.cwd);
        FUZZ_CHECK(c.argc > 0 && c.argc <= INIT_ARGS_MAX && c.argv && c.argv[c.argc] == NULL);
        for (size_t i = 0; i < c.argc; i++)
                FUZZ_CHECK(c.argv[i] != NULL);
        FUZZ_CHECK(c.n_env <= INIT_ENV_MAX && (c.n_env == 0 || c.env[c.n_env] == NULL));
        for (size_t i = 0; i < c.n_env; i++)
                FUZZ_CHECK(strchr(c.env[i], '=') != NULL);
        FUZZ_CHECK(c.n_shares <= INIT_SHARES_MAX);
        for (size_t i = 0; i < c.n_shares; i++)
                FUZZ_CHECK(c.shares[i].tag && c.shares[i].path && c.shares[i].path[0] == '/');
        FUZZ_CHECK(strlen(c.user) <= INIT_USER_NAME_MAX);

        init_config_free(&c);
        return 0;
}
