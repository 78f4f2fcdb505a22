/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>

#include "policy.h"

/* One policy file that must be rejected, the line and the words the message must contain. */
typedef struct parse_error_case {
        const char *name;
        const char *text;
        unsigned line;
        const char *expected; /* substring of the message after "FILE:LINE: " */
} parse_error_case;

static const parse_error_case parse_errors[] = {
        { "unknown key", "[Workspace w]\nnetwrk=uplink\n", 2,
          "key 'netwrk': unknown key in [Workspace w] (valid: Label, Images, Users, filesystems, network" },
        { "key in wrong case", "[Workspace w]\nimages=*\n", 2, "did you mean 'Images'?" },
        { "workspace key in limits", "[Limits]\nLabel=red\n", 2,
          "key 'Label': not allowed in [Limits], only in [Workspace NAME] (valid: filesystems," },
        { "unknown key in limits", "[Limits]\nfoo=1\n", 2, "key 'foo': unknown key in [Limits]" },
        { "invalid network", "[Workspace w]\nnetwork=Uplink\n", 2,
          "key 'network': invalid network 'Uplink' (valid: none, uplink or a network VM name" },
        { "invalid choice", "[Workspace w]\nclipboard=on\n", 2,
          "key 'clipboard': invalid value 'on' (valid: none, on-request)" },
        { "invalid workspace name", "[Workspace -x]\n", 1,
          "invalid workspace name '-x' (valid: 1 to 64 characters" },
        { "empty workspace name", "[Workspace ]\n", 1, "invalid workspace name ''" },
        { "workspace name with slash", "[Workspace a/b]\n", 1, "invalid workspace name 'a/b'" },
        { "unknown section", "[Workspaces w]\n", 1,
          "unknown section '[Workspaces w]' (valid: Limits, Workspace NAME)" },
        { "section without bracket", "[Limits\n", 1, "section header '[Limits' does not end with ']'" },
        { "duplicate section", "[Workspace w]\nnetwork=none\n\n[Workspace w]\n", 4,
          "duplicate section '[Workspace w]' (first at line 1)" },
        { "duplicate limits", "[Limits]\n[Limits]\n", 2, "duplicate section '[Limits]' (first at line 1)" },
        { "duplicate key", "[Workspace w]\nnetwork=none\nnetwork=uplink\n", 3,
          "key 'network': duplicate key in this section (first at line 2)" },
        { "missing equals", "[Workspace w]\nnetwork uplink\n", 2,
          "expected Key=value, [Section] or a comment starting with '#', found 'network uplink'" },
        { "missing key name", "[Workspace w]\n=uplink\n", 2, "missing key name before '='" },
        { "key outside section", "network=uplink\n", 1, "key 'network': outside a section" },
        { "memory suffix", "[Limits]\nmemory=2X\n", 2, "key 'memory': invalid size '2X' (valid: a size from 64M" },
        { "memory too small", "[Limits]\nmemory=32M\n", 2, "key 'memory': 32M is out of range" },
        { "memory negative", "[Limits]\nmemory=-1G\n", 2, "key 'memory': invalid size '-1G'" },
        { "cpus zero", "[Workspace w]\ncpus=0\n", 2, "key 'cpus': CPU count 0 is out of range" },
        { "cpus not a number", "[Workspace w]\ncpus=two\n", 2, "key 'cpus': invalid CPU count 'two'" },
        { "usb separator", "[Workspace w]\nusb=046d-c52b\n", 2,
          "key 'usb': invalid USB device '046d-c52b' (valid: vendor:product" },
        { "usb short id", "[Workspace w]\nusb=46d:c52b\n", 2, "invalid USB device '46d:c52b'" },
        { "usb wildcard combined", "[Limits]\nusb=*;046d:c52b\n", 2, "'*' (all) cannot be combined" },
        { "usb listed twice", "[Limits]\nusb=046d:C52B;046d:c52b\n", 2, "'046d:c52b' is listed twice" },
        { "filesystem dotdot", "[Workspace w]\nfilesystems=~/Work/../.ssh:rw\n", 2, "contains '..'" },
        { "filesystem mode", "[Workspace w]\nfilesystems=~/Work:rx\n", 2, "unknown mode ':rx' in '~/Work:rx'" },
        { "filesystem root", "[Workspace w]\nfilesystems=/:ro\n", 2, "would share the whole host file system" },
        { "filesystem home slash", "[Workspace w]\nfilesystems=~/\n", 2, "would share the whole home directory" },
        { "filesystem unknown name", "[Workspace w]\nfilesystems=xdg-downloads\n", 2,
          "unknown location 'xdg-downloads'" },
        { "filesystem twice normalized", "[Workspace w]\nfilesystems=~/Work:ro;~/Work/:rw\n", 2,
          "'~/Work/' is listed twice" },
        { "label colour", "[Workspace w]\nLabel=mauve\n", 2,
          "key 'Label': invalid colour 'mauve' (valid: red, orange" },
        { "label short hex", "[Workspace w]\nLabel=#fff\n", 2, "invalid colour '#fff'" },
        { "image name", "[Workspace w]\nImages=Fire fox\n", 2, "key 'Images': invalid image name 'Fire fox'" },
        { "image wildcard combined", "[Workspace w]\nImages=*;firefox\n", 2, "'*' (all) cannot be combined" },
        { "empty list", "[Workspace w]\nImages=\n", 2, "key 'Images': empty list" },
        { "list of separators", "[Workspace w]\nUsers=;;\n", 2, "key 'Users': empty list" },
        { "group without name", "[Workspace w]\nUsers=@\n", 2, "key 'Users': invalid group name '@'" },
        { "user with space", "[Workspace w]\nUsers=al ice\n", 2, "invalid user name 'al ice'" },
        { "control character", "[Workspace w]\nnetwork=up\x01link\n", 2, "invalid control character 0x01" },
        { "invalid utf-8", "[Workspace w]\nLabel=\xff\n", 2, "invalid UTF-8 byte 0xff" },
};

static void parse_error_table(void **state)
{
        for (size_t i = 0; i < ELEMENTSOF(parse_errors); i++) {
                const parse_error_case *c = &parse_errors[i];
                _cleanup_policy_ vp_policy *policy = NULL;
                vp_error err = { 0 };
                char prefix[64];

                assert_int_equal(vp_policy_new(&policy, &err), 0);
                int r = vp_policy_parse(policy, "test.conf", c->text, &err);
                if (r != -EINVAL || !strstr(err.message, c->expected))
                        print_message("case '%s': r=%d, message: %s\n", c->name, r, err.message);
                assert_int_equal(r, -EINVAL);
                assert_non_null(strstr(err.message, c->expected));
                snprintf(prefix, sizeof(prefix), "test.conf:%u: ", c->line);
                if (!vp_str_startswith(err.message, prefix))
                        print_message("case '%s': expected line %u: %s\n", c->name, c->line, err.message);
                assert_true(vp_str_startswith(err.message, prefix));
        }
}

static vp_policy *parse_good(const char *text)
{
        vp_policy *policy = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_policy_new(&policy, &err), 0);
        int r = vp_policy_parse(policy, "test.conf", text, &err);
        if (r < 0)
                print_message("unexpected error: %s\n", err.message);
        assert_int_equal(r, 0);
        return policy;
}

/* The effective value and source of a permission of workspace, from vp_policy_to_json(). */
static json_t *workspace_rule(json_t *json, const char *workspace, const char *key)
{
        json_t *w = json_object_get(json_object_get(json, "workspaces"), workspace);
        json_t *rule = json_object_get(json_object_get(w, "permissions"), key);

        if (!rule)
                rule = json_object_get(w, key);
        assert_non_null(rule);
        return rule;
}

static void parse_accepts_full_workspace(void **state)
{
        _cleanup_policy_ vp_policy *policy = parse_good(
                "# caps\n"
                "[Limits]\n"
                "cpus = 4\n"
                "memory=4G\n"
                "network=uplink\n"
                "filesystems=xdg-download:rw;~/Work:rw\n"
                "\n"
                "[Workspace work]\n"
                "Label=#1a2B3c\n"
                "Images=firefox;pdftotext\n"
                "Users=alice;@staff\n"
                "filesystems=xdg-download:rw;~/Work:rw\n"
                "network=uplink\n"
                "clipboard=on-request\n"
                "audio=playback\n"
                "microphone=none\n"
                "camera=none\n"
                "usb=046D:C52B\n"
                "gpu=none\n"
                "display=wayland\n"
                "cpus=2\n"
                "memory=2048\n");
        json_t *json = vp_policy_to_json(policy, NULL);

        assert_non_null(json);
        assert_string_equal(vp_policy_workspaces(policy)[0], "work");
        assert_null(vp_policy_workspaces(policy)[1]);
        assert_string_equal(json_string_value(json_object_get(workspace_rule(json, "work", "Label"), "value")),
                            "#1a2B3c");
        assert_string_equal(json_string_value(json_object_get(workspace_rule(json, "work", "network"), "source")),
                            "test.conf:13");
        assert_int_equal(json_integer_value(json_object_get(workspace_rule(json, "work", "memory"), "value")),
                         2048LL << 20);
        /* USB IDs are stored in lower case, as recipes store them. */
        json_t *usb = json_object_get(json_object_get(json, "limits"), "usb");
        assert_true(json_is_null(json_object_get(usb, "value")));
        json_decref(json);
}

static void later_file_replaces_keys(void **state)
{
        _cleanup_policy_ vp_policy *policy = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_policy_new(&policy, &err), 0);
        assert_int_equal(vp_policy_parse(policy, "10-a.conf",
                                         "[Limits]\nnetwork=uplink\naudio=playback\n"
                                         "[Workspace w]\nImages=*\nnetwork=uplink\naudio=playback\n",
                                         &err),
                         0);
        assert_int_equal(vp_policy_parse(policy, "20-b.conf", "[Workspace w]\nnetwork=none\n[Workspace x]\n", &err),
                         0);

        json_t *json = vp_policy_to_json(policy, NULL);
        json_t *network = workspace_rule(json, "w", "network");
        json_t *audio = workspace_rule(json, "w", "audio");
        assert_string_equal(json_string_value(json_object_get(network, "value")), "none");
        assert_string_equal(json_string_value(json_object_get(network, "source")), "20-b.conf:2");
        assert_string_equal(json_string_value(json_object_get(audio, "value")), "playback");
        assert_string_equal(json_string_value(json_object_get(audio, "source")), "10-a.conf:7");
        /* The section header of the first file is the workspace's source. */
        assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(json, "workspaces"), "w"),
                                                              "source")),
                            "10-a.conf:4");
        assert_string_equal(vp_policy_workspaces(policy)[0], "w");
        assert_string_equal(vp_policy_workspaces(policy)[1], "x");
        json_decref(json);
}

static void limits_cap_effective_policy(void **state)
{
        _cleanup_policy_ vp_policy *policy = parse_good("[Limits]\ncpus=2\n"
                                                        "filesystems=~/Work:ro\n"
                                                        "[Workspace w]\nnetwork=uplink\ncpus=8\n"
                                                        "filesystems=~/Work/Project:rw\n");
        json_t *json = vp_policy_to_json(policy, "w");
        json_t *network = workspace_rule(json, "w", "network");
        json_t *cpus = workspace_rule(json, "w", "cpus");
        json_t *filesystems = workspace_rule(json, "w", "filesystems");

        assert_string_equal(json_string_value(json_object_get(network, "value")), "none");
        assert_string_equal(json_string_value(json_array_get(json_object_get(network, "capped"), 0)),
                            "network=uplink: no [Limits] network= rule");
        assert_int_equal(json_integer_value(json_object_get(cpus, "value")), 2);
        assert_string_equal(json_string_value(json_array_get(json_object_get(filesystems, "value"), 0)),
                            "~/Work/Project:ro");
        json_decref(json);
}

static void limits_network_none_caps(void **state)
{
        _cleanup_policy_ vp_policy *policy = parse_good("[Limits]\nnetwork=none\n[Workspace w]\nnetwork=uplink\n");
        json_t *json = vp_policy_to_json(policy, "w");
        json_t *network = workspace_rule(json, "w", "network");

        assert_string_equal(json_string_value(json_array_get(json_object_get(network, "capped"), 0)),
                            "network=uplink: [Limits] allow network=none (test.conf:2)");
        json_decref(json);
}

static void to_json_unknown_workspace(void **state)
{
        _cleanup_policy_ vp_policy *policy = parse_good("[Workspace w]\n");

        assert_null(vp_policy_to_json(policy, "other"));
}

static void comments_and_blank_lines(void **state)
{
        _cleanup_policy_ vp_policy *policy =
                parse_good("\xef\xbb\xbf# comment\r\n; another\r\n\r\n  [Workspace w]  \r\n  network = none  \r\n");

        assert_string_equal(vp_policy_workspaces(policy)[0], "w");
}

static char directory[] = "/tmp/vmpack-test-policy-XXXXXX";

static int setup_directory(void **state)
{
        return mkdtemp(directory) ? 0 : -1;
}

static int remove_directory(void **state)
{
        return vp_rm_rf(directory, NULL);
}

static void write_file(const char *sub, const char *name, const char *text)
{
        _cleanup_free_ char *dir = vp_strdup_printf("%s/%s", directory, sub);
        _cleanup_free_ char *path = vp_strdup_printf("%s/%s", dir, name);

        assert_int_equal(vp_mkdir_p(dir, 0755, NULL), 0);
        assert_int_equal(vp_write_file_atomic(path, text, strlen(text), 0644, NULL), 0);
}

static void load_reads_in_lexical_order(void **state)
{
        _cleanup_free_ char *dir = vp_strdup_printf("%s/order", directory);
        _cleanup_policy_ vp_policy *policy = NULL;
        vp_error err = { 0 };

        write_file("order", "9-last.conf", "[Workspace w]\nnetwork=none\n");
        write_file("order", "10-first.conf", "[Workspace w]\nnetwork=uplink\n");
        write_file("order", "README", "not a policy file\n");
        write_file("order", ".hidden.conf", "garbage\n");

        assert_int_equal(vp_policy_load(dir, &policy, &err), 0);
        char *const *files = vp_policy_files(policy);
        assert_int_equal(strv_length(files), 2);
        assert_true(vp_str_endswith(files[0], "/10-first.conf"));
        assert_true(vp_str_endswith(files[1], "/9-last.conf"));
        assert_false(vp_policy_is_builtin(policy));

        /* "9-last.conf" sorts after "10-first.conf", so its network=none wins. */
        json_t *json = vp_policy_to_json(policy, "w");
        assert_string_equal(json_string_value(json_object_get(workspace_rule(json, "w", "network"), "value")), "none");
        json_decref(json);
}

static void load_reports_file_and_line(void **state)
{
        _cleanup_free_ char *dir = vp_strdup_printf("%s/broken", directory);
        _cleanup_free_ char *expected = vp_strdup_printf("%s/20-bad.conf:3: key 'cpus'", dir);
        _cleanup_policy_ vp_policy *policy = NULL;
        vp_error err = { 0 };

        write_file("broken", "10-good.conf", "[Workspace w]\n");
        write_file("broken", "20-bad.conf", "[Workspace w]\n# two\ncpus=100\n");

        assert_int_equal(vp_policy_load(dir, &policy, &err), -EINVAL);
        assert_null(policy);
        assert_true(vp_str_startswith(err.message, expected));
}

static void load_empty_directory_denies(void **state)
{
        _cleanup_free_ char *dir = vp_strdup_printf("%s/empty", directory);
        _cleanup_policy_ vp_policy *policy = NULL;
        vp_grant grant = { 0 };
        vp_error err = { 0 };

        assert_int_equal(vp_mkdir_p(dir, 0755, NULL), 0);
        assert_int_equal(vp_policy_load(dir, &policy, &err), 0);
        assert_false(vp_policy_is_builtin(policy));
        assert_null(vp_policy_files(policy)[0]);
        assert_null(vp_policy_workspaces(policy)[0]);

        vp_grant_request request = { .image = "firefox" };
        assert_int_equal(vp_grant_compute(policy, &request, &grant, &err), 0);
        assert_int_equal(grant.n_denials, 1);
        assert_string_equal(grant.denials[0].permission, "workspace");
        assert_string_equal(grant.denials[0].rule, "the policy directory contains no files, so nothing is granted");
        vp_grant_clear(&grant);
}

static void load_missing_directory_builtin(void **state)
{
        _cleanup_free_ char *dir = vp_strdup_printf("%s/missing", directory);
        _cleanup_policy_ vp_policy *policy = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_policy_load(dir, &policy, &err), 0);
        assert_true(vp_policy_is_builtin(policy));
        assert_string_equal(vp_policy_files(policy)[0], "<built-in>");
        assert_string_equal(vp_policy_workspaces(policy)[0], "default");
        assert_null(vp_policy_workspaces(policy)[1]);
}

static void load_not_a_directory(void **state)
{
        _cleanup_free_ char *path = vp_strdup_printf("%s/file/x.conf", directory);
        _cleanup_policy_ vp_policy *policy = NULL;
        vp_error err = { 0 };

        write_file("file", "x.conf", "[Limits]\n");
        assert_int_equal(vp_policy_load(path, &policy, &err), -ENOTDIR);
        assert_non_null(strstr(err.message, "not a directory"));
}

/* The built-in policy grants what the bundled recipes request, with no denial. */
static void builtin_grants_bundled_recipes(void **state)
{
        static const char *const asks[] = {
                "{\"filesystems\": [{\"location\": \"xdg-download\", \"mode\": \"rw\"}], \"network\": \"uplink\", "
                "\"display\": \"wayland\"}",
                "{\"network\": \"none\"}",
                "{\"filesystems\": [{\"location\": \"xdg-videos\", \"mode\": \"ro\"}], \"audio\": \"playback\", "
                "\"display\": \"wayland\"}",
                "{\"display\": \"wayland\", \"clipboard\": \"on-request\"}",
        };
        _cleanup_policy_ vp_policy *policy = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_policy_new(&policy, &err), 0);
        assert_int_equal(vp_policy_parse(policy, "<built-in>", vp_policy_builtin_text(), &err), 0);
        for (size_t i = 0; i < ELEMENTSOF(asks); i++) {
                json_t *json = json_loads(asks[i], 0, NULL);
                vp_permissions ask = { 0 };
                vp_grant grant = { 0 };
                vp_grant_request request = { .image = "firefox", .ask = &ask, .cpus = 2, .memory_bytes = 1ULL << 30 };

                assert_non_null(json);
                assert_int_equal(vp_permissions_from_json(json, &ask, &err), 0);
                assert_int_equal(vp_grant_compute(policy, &request, &grant, &err), 0);
                if (grant.n_denials > 0)
                        print_message("ask %zu: %s\n", i, grant.denials[0].rule);
                assert_int_equal(grant.n_denials, 0);
                assert_int_equal(grant.cpus, 2);
                assert_int_equal(grant.memory_bytes, 1ULL << 30);
                vp_grant_clear(&grant);
                vp_permissions_clear(&ask);
                json_decref(json);
        }
}

static void builtin_denies_devices(void **state)
{
        _cleanup_policy_ vp_policy *policy = NULL;
        vp_permissions ask = { .microphone = (char *) "on", .gpu = (char *) "virgl" };
        vp_grant grant = { 0 };
        vp_error err = { 0 };

        assert_int_equal(vp_policy_new(&policy, &err), 0);
        assert_int_equal(vp_policy_parse(policy, "<built-in>", vp_policy_builtin_text(), &err), 0);
        vp_grant_request request = { .image = "x", .ask = &ask };
        assert_int_equal(vp_grant_compute(policy, &request, &grant, &err), 0);
        assert_int_equal(grant.n_denials, 2);
        assert_string_equal(grant.denials[0].permission, "microphone");
        assert_string_equal(grant.denials[1].permission, "gpu");
        vp_grant_clear(&grant);
}

static void digest_tracks_names_and_contents(void **state)
{
        _cleanup_policy_ vp_policy *a = parse_good("[Workspace w]\n");
        _cleanup_policy_ vp_policy *b = parse_good("[Workspace w]\n");
        _cleanup_policy_ vp_policy *c = parse_good("[Workspace w]\nnetwork=none\n");
        _cleanup_policy_ vp_policy *d = NULL, *empty = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_policy_new(&d, &err), 0);
        assert_int_equal(vp_policy_parse(d, "other.conf", "[Workspace w]\n", &err), 0);
        assert_int_equal(vp_policy_new(&empty, &err), 0);

        assert_int_equal(strlen(vp_policy_digest(a)), 64);
        assert_string_equal(vp_policy_digest(a), vp_policy_digest(b));
        assert_string_not_equal(vp_policy_digest(a), vp_policy_digest(c));
        assert_string_not_equal(vp_policy_digest(a), vp_policy_digest(d));
        assert_string_not_equal(vp_policy_digest(a), vp_policy_digest(empty));
}

static void directory_follows_config_dir(void **state)
{
        _cleanup_free_ char *session = NULL, *system = NULL;

        /* VMPACK_CONFIG_DIR moves both, so tests can run a system daemon. */
        setenv("VMPACK_CONFIG_DIR", "/tmp/vmpack-config", 1);
        session = vp_policy_directory(false);
        system = vp_policy_directory(true);
        assert_string_equal(session, "/tmp/vmpack-config/policy.d");
        assert_string_equal(system, "/tmp/vmpack-config/policy.d");
        unsetenv("VMPACK_CONFIG_DIR");

        _cleanup_free_ char *default_system = vp_policy_directory(true);
        assert_string_equal(default_system, "/etc/vmpack/policy.d");
}

static void parse_rejects_oversized_line(void **state)
{
        _cleanup_policy_ vp_policy *policy = NULL;
        _cleanup_free_ char *text = malloc(70000);
        vp_error err = { 0 };

        memset(text, 'a', 69999);
        text[69999] = '\0';
        memcpy(text, "[Workspace w]\nLabel=", 20);
        assert_int_equal(vp_policy_new(&policy, &err), 0);
        assert_int_equal(vp_policy_parse(policy, "test.conf", text, &err), -EINVAL);
        assert_non_null(strstr(err.message, "test.conf:2: line is longer than 65536 bytes"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(parse_error_table),
                cmocka_unit_test(parse_accepts_full_workspace),
                cmocka_unit_test(later_file_replaces_keys),
                cmocka_unit_test(limits_cap_effective_policy),
                cmocka_unit_test(limits_network_none_caps),
                cmocka_unit_test(to_json_unknown_workspace),
                cmocka_unit_test(comments_and_blank_lines),
                cmocka_unit_test(load_reads_in_lexical_order),
                cmocka_unit_test(load_reports_file_and_line),
                cmocka_unit_test(load_empty_directory_denies),
                cmocka_unit_test(load_missing_directory_builtin),
                cmocka_unit_test(load_not_a_directory),
                cmocka_unit_test(builtin_grants_bundled_recipes),
                cmocka_unit_test(builtin_denies_devices),
                cmocka_unit_test(digest_tracks_names_and_contents),
                cmocka_unit_test(directory_follows_config_dir),
                cmocka_unit_test(parse_rejects_oversized_line),
        };

        return cmocka_run_group_tests(tests, setup_directory, remove_directory);
}
