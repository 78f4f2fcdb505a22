/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vmpack policy check|show: read policy files locally, without the daemon. */
#include "vmpack.h"

#include "policy.h"

#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

static void print_help(FILE *out)
{
        fputs("Usage: vmpack policy check [DIR] [--system]\n"
              "       vmpack policy show [WORKSPACE] [--json] [--system] [--directory DIR]\n"
              "       vmpack policy show --default\n\n"
              "Read the policy files that decide what each workspace may grant to apps (see\n"
              "docs/policy.md). The session daemon's policy directory is $VMPACK_CONFIG_DIR/policy.d,\n"
              "else $XDG_CONFIG_HOME/vmpack/policy.d, else ~/.config/vmpack/policy.d. With --system\n"
              "or VMPACK_SYSTEM=1 (a client of the system daemon) it is " VP_POLICY_SYSTEM_DIR ",\n"
              "or $VMPACK_CONFIG_DIR/policy.d when that variable is set. When the directory does\n"
              "not exist, the built-in policy applies. When it exists but contains no *.conf file,\n"
              "nothing is granted.\n\n"
              "Commands:\n"
              "  check [DIR]        parse every *.conf file of DIR (default: the policy directory) and\n"
              "                     print \"DIR: N files, M workspaces, OK\", or FILE:LINE and the error\n"
              "                     (exit status 1)\n"
              "  show [WORKSPACE]   print each workspace's images, users, label, permissions, CPUs and\n"
              "                     memory after [Limits] are applied, with the FILE:LINE of each rule;\n"
              "                     only WORKSPACE when given\n\n"
              "Options:\n"
              "      --system         read the system daemon's policy directory\n"
              "  -d, --directory DIR  show: read DIR instead of the policy directory\n"
              "      --json           show: print the effective policy as JSON\n"
              "      --default        show: print the text of the built-in policy\n"
              "  -h, --help           show this help\n",
              out);
}

/* The policy directory for the options: DIR, --system or the session's directory. */
static char *choose_directory(const char *directory, bool system)
{
        const char *system_env = getenv("VMPACK_SYSTEM");

        if (directory)
                return strdup(directory);
        /* A client of the system daemon (VMPACK_SYSTEM=1) reads the daemon's policy. */
        return vp_policy_directory(system || (system_env && strcmp(system_env, "1") == 0));
}

static int policy_check(const char *directory)
{
        _cleanup_policy_ vp_policy *policy = NULL;
        vp_error err = { 0 };

        if (vp_policy_load(directory, &policy, &err) < 0) {
                fprintf(stderr, "vmpack policy check: %s\n", err.message);
                return 1;
        }

        size_t n_files = strv_length(vp_policy_files(policy));
        size_t n_workspaces = strv_length(vp_policy_workspaces(policy));
        if (vp_policy_is_builtin(policy))
                printf("%s: not found, so the built-in policy applies: %zu workspace%s, OK\n", directory,
                       n_workspaces, n_workspaces == 1 ? "" : "s");
        else if (n_files == 0)
                printf("%s: 0 files, so nothing is granted (deny by default), OK\n", directory);
        else
                printf("%s: %zu file%s, %zu workspace%s, OK\n", directory, n_files, n_files == 1 ? "" : "s",
                       n_workspaces, n_workspaces == 1 ? "" : "s");
        return 0;
}

static void print_value(json_t *value, char *buf, size_t size)
{
        size_t used = 0;
        size_t i;
        json_t *item;

        buf[0] = '\0';
        if (json_is_string(value))
                snprintf(buf, size, "%s", json_string_value(value));
        else if (json_is_integer(value))
                snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        else if (json_is_array(value)) {
                json_array_foreach(value, i, item) {
                        int n = snprintf(buf + used, size - used, "%s%s", i > 0 ? ";" : "",
                                         json_string_value(item) ? json_string_value(item) : "?");
                        if (n < 0 || (size_t) n >= size - used)
                                break;
                        used += (size_t) n;
                }
                if (json_array_size(value) == 0)
                        snprintf(buf, size, "none");
        }
}

static void print_rule(const char *key, json_t *rule, const char *unset)
{
        json_t *value = json_object_get(rule, "value");
        const char *source = vp_json_string(rule, "source", NULL);
        json_t *capped = json_object_get(rule, "capped");
        char text[1024];
        size_t i;
        json_t *cap;

        if (strcmp(key, "memory") == 0 && json_is_integer(value))
                vp_format_size((uint64_t) json_integer_value(value), text, sizeof(text));
        else if (json_is_null(value) || !value)
                snprintf(text, sizeof(text), "%s", unset);
        else
                print_value(value, text, sizeof(text));

        printf("  %-12s %-36s %s\n", key, text, source ? source : "(no rule)");
        json_array_foreach(capped, i, cap)
                printf("  %-12s   capped: %s\n", "", json_string_value(cap));
}

static void print_workspace(const char *name, json_t *workspace)
{
        static const char *const permission_keys[] = {
                "filesystems", "network", "clipboard", "audio", "microphone", "camera",
                "usb",         "gpu",     "display",   "cpus",  "memory",
        };
        json_t *permissions = json_object_get(workspace, "permissions");

        printf("\nWorkspace %s (%s)\n", name, vp_json_string(workspace, "source", "?"));
        print_rule("Label", json_object_get(workspace, "Label"), "none");
        print_rule("Images", json_object_get(workspace, "Images"), "none (no image may be installed)");
        print_rule("Users", json_object_get(workspace, "Users"), "all vmpack users");
        for (size_t i = 0; i < ELEMENTSOF(permission_keys); i++)
                print_rule(permission_keys[i], json_object_get(permissions, permission_keys[i]), "none");
}

static int policy_show(const char *directory, const char *workspace, bool json)
{
        _cleanup_policy_ vp_policy *policy = NULL;
        vp_error err = { 0 };
        json_t *result;
        const char *name;
        json_t *value;

        if (vp_policy_load(directory, &policy, &err) < 0) {
                fprintf(stderr, "vmpack policy show: %s\n", err.message);
                return 1;
        }
        result = vp_policy_to_json(policy, workspace);
        if (!result && workspace) {
                _cleanup_free_ char *names = strv_join(vp_policy_workspaces(policy), ", ");
                fprintf(stderr, "vmpack policy show: no workspace '%s' in %s (workspaces: %s)\n", workspace,
                        directory, names && *names ? names : "none");
                return 1;
        }
        if (!result) {
                fprintf(stderr, "vmpack policy show: out of memory\n");
                return 1;
        }
        json_object_set_new(result, "directory", json_string(directory));

        if (json) {
                vp_print_json(result);
                json_decref(result);
                return 0;
        }

        size_t n_files = strv_length(vp_policy_files(policy));
        if (vp_policy_is_builtin(policy))
                printf("Policy: built-in (%s does not exist; 'vmpack policy show --default' prints it)\n",
                       directory);
        else
                printf("Policy: %s (%zu file%s, digest %.12s)\n", directory, n_files, n_files == 1 ? "" : "s",
                       vp_policy_digest(policy));
        if (!vp_policy_is_builtin(policy) && n_files == 0)
                printf("The directory contains no *.conf file, so nothing is granted (deny by default).\n");

        printf("\nLimits\n");
        /* A missing cpus= or memory= limit caps at the defaults, not at nothing (see lib/grant.c). */
        char default_cpus[32], default_memory[64], size[32];
        snprintf(default_cpus, sizeof(default_cpus), "%u (default)", VP_POLICY_DEFAULT_CPUS);
        vp_format_size(VP_POLICY_DEFAULT_MEMORY_BYTES, size, sizeof(size));
        snprintf(default_memory, sizeof(default_memory), "%s (default)", size);
        json_object_foreach(json_object_get(result, "limits"), name, value) {
                if (strcmp(name, "cpus") == 0)
                        print_rule(name, value, default_cpus);
                else if (strcmp(name, "memory") == 0)
                        print_rule(name, value, default_memory);
                else
                        print_rule(name, value, "none");
        }
        json_object_foreach(json_object_get(result, "workspaces"), name, value)
                print_workspace(name, value);
        json_decref(result);
        return 0;
}

int verb_policy(int argc, char **argv)
{
        enum { OPTION_SYSTEM = 0x100, OPTION_JSON, OPTION_DEFAULT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "system", no_argument, NULL, OPTION_SYSTEM },
                { "directory", required_argument, NULL, 'd' },
                { "json", no_argument, NULL, OPTION_JSON },
                { "default", no_argument, NULL, OPTION_DEFAULT },
                {},
        };
        const char *directory_option = NULL;
        bool system = false, json = false, builtin = false;
        int c;

        /* Options may come before or after the command, as in "vmpack policy show --json". */
        while ((c = getopt_long(argc, argv, "hd:", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        print_help(stdout);
                        return 0;
                case OPTION_SYSTEM:
                        system = true;
                        break;
                case 'd':
                        directory_option = optarg;
                        break;
                case OPTION_JSON:
                        json = true;
                        break;
                case OPTION_DEFAULT:
                        builtin = true;
                        break;
                default:
                        return vp_option_error("policy", argv, "hd:", options);
                }
        }

        if (optind >= argc) {
                fprintf(stderr, "vmpack policy: missing command (valid: check, show; run 'vmpack policy --help')\n");
                return 2;
        }
        const char *command = argv[optind++];
        const char *argument = optind < argc ? argv[optind++] : NULL;
        if (optind < argc) {
                fprintf(stderr, "vmpack policy %s: unexpected argument '%s' (run 'vmpack policy --help')\n", command,
                        argv[optind]);
                return 2;
        }

        if (strcmp(command, "check") == 0) {
                if (json || builtin) {
                        fprintf(stderr, "vmpack policy check: --json and --default apply to show only\n");
                        return 2;
                }
                if (argument && (system || directory_option)) {
                        fprintf(stderr, "vmpack policy check: give DIR or --system, not both\n");
                        return 2;
                }
                _cleanup_free_ char *directory = choose_directory(argument ? argument : directory_option, system);
                if (!directory) {
                        fprintf(stderr, "vmpack policy check: out of memory\n");
                        return 1;
                }
                /* A directory named on the command line must exist: a typo must not pass as
                 * "the built-in policy applies". */
                struct stat st;
                if (argument && stat(argument, &st) < 0) {
                        fprintf(stderr, "vmpack policy check: %s: %s\n", argument, strerror(errno));
                        return 1;
                }
                return policy_check(directory);
        }

        if (strcmp(command, "show") == 0) {
                if (builtin) {
                        if (argument || json || system || directory_option) {
                                fprintf(stderr, "vmpack policy show: --default takes no other option or argument\n");
                                return 2;
                        }
                        fputs(vp_policy_builtin_text(), stdout);
                        return 0;
                }
                if (system && directory_option) {
                        fprintf(stderr, "vmpack policy show: give --directory or --system, not both\n");
                        return 2;
                }
                _cleanup_free_ char *directory = choose_directory(directory_option, system);
                if (!directory) {
                        fprintf(stderr, "vmpack policy show: out of memory\n");
                        return 1;
                }
                return policy_show(directory, argument, json);
        }

        fprintf(stderr, "vmpack policy: unknown command '%s' (valid: check, show; run 'vmpack policy --help')\n",
                command);
        return 2;
}
