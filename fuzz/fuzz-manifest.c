/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The recipe parser, vp_manifest_parse(), on arbitrary recipe text. */
#include "fuzz.h"

#include "manifest.h"

#include <string.h>
#include <sys/stat.h>

static char *recipe_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *dir = fuzz_temp_dir();
        static const char icon[] = "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n";
        static const char containerfile[] = "FROM debian:bookworm\n";

        /* Files that Icon=, Containerfile= and Files= entries in the seeds name, so the
         * fuzzer reaches the checks after path resolution. */
        fuzz_write_file(dir, "app.svg", icon, sizeof(icon) - 1);
        fuzz_write_file(dir, "Containerfile", containerfile, sizeof(containerfile) - 1);
        _cleanup_free_ char *files = vp_strdup_printf("%s/files", dir);
        FUZZ_CHECK(files && mkdir(files, 0755) == 0);
        fuzz_write_file(files, "config", "x\n", 2);

        recipe_path = vp_strdup_printf("%s/app.vmpack", dir);
        FUZZ_CHECK(recipe_path);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = fuzz_string(data, size);
        _cleanup_manifest_ vp_manifest *m = NULL;
        vp_error err = { 0 };

        int r = vp_manifest_parse(recipe_path, text, &m, &err);
        if (r < 0) {
                FUZZ_CHECK(m == NULL);
                FUZZ_CHECK(err.code == r);
                FUZZ_CHECK(err.message[0] != '\0');
                return 0;
        }

        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(m);
        FUZZ_CHECK(strcmp(m->name, "app") == 0);
        FUZZ_CHECK(m->display_name && m->exec && m->exec_argv && m->exec_argv[0]);
        FUZZ_CHECK(!m->packages != !m->containerfile);
        return 0;
}
