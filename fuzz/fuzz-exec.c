/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Exec line handling, vp_exec_split() and vp_exec_expand(). The first line of the input is
 * the Exec value, and each further line is a file path passed to expand. */
#include "fuzz.h"

#include "manifest.h"

#include <string.h>

#define FILES_MAX 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *text = fuzz_string(data, size);
        char *files[FILES_MAX + 1] = { 0 };
        size_t n_files = 0;

        char *next = strchr(text, '\n');
        if (next)
                *next++ = '\0';
        while (next && n_files < FILES_MAX) {
                files[n_files++] = next;
                next = strchr(next, '\n');
                if (next)
                        *next++ = '\0';
        }

        _cleanup_strv_free_ char **argv = NULL;
        vp_error err = { 0 };
        int r = vp_exec_split(text, &argv, &err);
        if (r < 0) {
                FUZZ_CHECK(err.code == r && err.message[0] != '\0');
                FUZZ_CHECK(!argv);
                return 0;
        }
        FUZZ_CHECK(argv);
        /* Splitting only removes quotes, escapes and blanks, so no word is longer than the line. */
        STRV_FOREACH(word, argv)
                FUZZ_CHECK(strlen(*word) <= strlen(text));

        _cleanup_strv_free_ char **expanded = NULL;
        r = vp_exec_expand(argv, files, &expanded, &err);
        if (r < 0) {
                FUZZ_CHECK(err.code == r && err.message[0] != '\0');
                FUZZ_CHECK(!expanded);
                return 0;
        }
        FUZZ_CHECK(expanded);
        /* Each field code (2 bytes) becomes at most every file, and without a field code the
         * files are appended once. */
        size_t bytes_in = 0, bytes_out = 0, file_bytes = 0;
        STRV_FOREACH(word, argv)
                bytes_in += strlen(*word);
        STRV_FOREACH(word, expanded)
                bytes_out += strlen(*word);
        for (size_t i = 0; i < n_files; i++)
                file_bytes += strlen(files[i]);
        FUZZ_CHECK(bytes_out <= bytes_in + (bytes_in / 2 + 1) * file_bytes);
        return 0;
}
