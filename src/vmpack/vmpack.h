/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The vmpack command-line client: one file per verb, dispatched from main.c. */
#pragma once

#include "store.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

/* Each verb gets argv with argv[0] set to the verb name and returns the process exit status. */
int verb_check(int argc, char **argv);
int verb_build(int argc, char **argv);
int verb_import(int argc, char **argv);
int verb_images(int argc, char **argv);
int verb_rmi(int argc, char **argv);
int verb_run(int argc, char **argv);
int verb_install(int argc, char **argv);
int verb_uninstall(int argc, char **argv);
int verb_list(int argc, char **argv);
int verb_info(int argc, char **argv);
int verb_start(int argc, char **argv);
int verb_stop(int argc, char **argv);
int verb_kill(int argc, char **argv);
int verb_suspend(int argc, char **argv);
int verb_resume(int argc, char **argv);
int verb_ps(int argc, char **argv);
int verb_logs(int argc, char **argv);
int verb_override(int argc, char **argv);
int verb_policy(int argc, char **argv);
int verb_audit(int argc, char **argv);

/* Print "vmpack <message>" to stderr; the message starts with the verb, as in "run: ...". */
void vp_log_error(const char *fmt, ...) _printf_(1, 2);
/* Print "vmpack <verb>: unknown option ..." or "... needs a value" for the argument that
 * getopt_long() (with opterr 0) just rejected, and return the usage exit status 2. */
int vp_option_error(const char *verb, char **argv, const char *short_options, const struct option *long_options);
/* True when reference has the syntax of an image name or of a digest (12 to 64 hex digits,
 * optionally after "sha256:"); whether such an image exists is not checked. */
bool vp_image_reference_valid(const char *reference);
/* Return the image that name (not a digest) points to, or NULL when there is none. */
vp_image *vp_find_named_image(const char *name);
/* Print "Replaced NAME (old image DIGEST12 removed)" or "... kept: used by NAMES" for the
 * image that name pointed to before. */
void vp_report_replaced(const char *name, const vp_image *old);
/* Format a byte count for people as "956.0 KiB", "1.2 MiB" or "3.4 GiB" (binary units). */
void vp_format_size(uint64_t bytes, char *buf, size_t size);
/* Print the error record as "vmpack <verb>: <message>" and return exit status 1. */
int vp_fail(const char *verb, const vp_error *err);

/* Call a vmpackd method (starting the session daemon when needed). Returns 0 with the
 * reply's parameters in *ret (may be NULL), or prints the error and returns exit status 1. */
int vp_daemon_call(const char *verb, const char *method, json_t *parameters, json_t **ret);
/* Run a verb that takes one instance NAME and only --help: call method with {"name": NAME}
 * and print "<done> NAME". list_verb names the verb that lists valid names. */
int vp_instance_verb(int argc, char **argv, const char *help, const char *method, const char *list_verb,
                     const char *done);
/* Print a JSON value indented, with sorted keys, and a newline. */
void vp_print_json(json_t *value);
/* The string member key of object, or fallback when missing or not a string. */
const char *vp_json_string(json_t *object, const char *key, const char *fallback);
