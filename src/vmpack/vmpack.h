/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The vmpack command-line client: one file per verb, dispatched from main.c. */
#pragma once

#include "util.h"

#include <stdio.h>

/* Each verb gets argv with argv[0] set to the verb name and returns the process exit status. */
int verb_check(int argc, char **argv);
int verb_build(int argc, char **argv);
int verb_import(int argc, char **argv);
int verb_images(int argc, char **argv);
int verb_rmi(int argc, char **argv);
int verb_run(int argc, char **argv);

/* Print "vmpack: <message>" to stderr. */
void vp_log_error(const char *fmt, ...) _printf_(1, 2);
/* Print the error record as "vmpack <verb>: <message>" and return exit status 1. */
int vp_fail(const char *verb, const vp_error *err);
