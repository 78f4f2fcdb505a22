/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy file parser, vp_policy_parse(), then the grant computation on what it accepted.
 * The input is one policy file, or two files separated by a NUL byte, so the merging of a
 * later file's sections is fuzzed too.
 */
#include "fuzz.h"

#include "policy.h"

#include <string.h>

/* Users for Users= rules, without reading /etc/passwd. */
static int lookup(uid_t uid, char **ret_name, char ***ret_groups, void *userdata)
{
        char **groups = strv_new();

        if (uid != 1000)
                return -ENOENT;
        if (!groups || strv_extend(&groups, "staff") < 0) {
                strv_free(groups);
                return -ENOMEM;
        }
        *ret_name = strdup("alice");
        *ret_groups = groups;
        return *ret_name ? 0 : -ENOMEM;
}

/* A request for every permission, so every rule is exercised. */
static vp_fs_permission ask_filesystems[] = {
        { (char *) "xdg-download", VP_SHARE_CREATE },
        { (char *) "~/Work/Project", VP_SHARE_RW },
        { (char *) "/srv/data", VP_SHARE_RO },
        { (char *) "home", VP_SHARE_RW },
};
static char *ask_usb[] = { (char *) "046d:c52b", NULL };
static const vp_permissions ask = {
        .filesystems = ask_filesystems,
        .n_filesystems = ELEMENTSOF(ask_filesystems),
        .network = (char *) "uplink",
        .clipboard = (char *) "on-request",
        .audio = (char *) "playback",
        .microphone = (char *) "on",
        .camera = (char *) "on",
        .usb = ask_usb,
        .gpu = (char *) "virgl",
        .display = (char *) "wayland",
};

static bool granted_within_ask(const vp_grant *grant)
{
        const vp_permissions *p = &grant->permissions;
        const char *pairs[][2] = {
                { p->network, ask.network }, { p->clipboard, ask.clipboard }, { p->audio, ask.audio },
                { p->microphone, ask.microphone }, { p->camera, ask.camera }, { p->gpu, ask.gpu },
                { p->display, ask.display },
        };

        for (size_t i = 0; i < ELEMENTSOF(pairs); i++)
                if (pairs[i][0] && strcmp(pairs[i][0], pairs[i][1]) != 0)
                        return false;
        for (size_t i = 0; i < p->n_filesystems; i++) {
                bool found = false;
                for (size_t j = 0; j < ask.n_filesystems; j++)
                        if (strcmp(p->filesystems[i].location, ask.filesystems[j].location) == 0 &&
                            p->filesystems[i].mode <= ask.filesystems[j].mode)
                                found = true;
                if (!found)
                        return false;
        }
        STRV_FOREACH(id, p->usb)
                if (!strv_contains(ask.usb, *id))
                        return false;
        return true;
}

static void check_grants(const vp_policy *policy)
{
        char *const *workspaces = vp_policy_workspaces(policy);

        for (size_t i = 0; workspaces[i]; i++) {
                vp_grant grant = { 0 };
                vp_error err = { 0 };
                vp_grant_request request = {
                        .workspace = workspaces[i],
                        .image = "firefox",
                        .uid = 1000,
                        .ask = &ask,
                        .cpus = 64,
                        .memory_bytes = 64ULL << 30,
                        .lookup = lookup,
                };

                FUZZ_CHECK(vp_grant_compute(policy, &request, &grant, &err) == 0);
                FUZZ_CHECK(granted_within_ask(&grant));
                FUZZ_CHECK(strv_length(grant.filesystem_roots) == grant.permissions.n_filesystems);
                FUZZ_CHECK(grant.cpus >= 1 && grant.cpus <= 64);
                FUZZ_CHECK(grant.memory_bytes >= 64ULL << 20 && grant.memory_bytes <= 64ULL << 30);
                for (size_t j = 0; j < grant.n_denials; j++)
                        FUZZ_CHECK(grant.denials[j].permission && grant.denials[j].requested && grant.denials[j].rule);

                char *message = vp_grant_denial_message(&grant, "app");
                FUZZ_CHECK(message && (grant.n_denials == 0) == (message[0] == '\0'));
                free(message);
                json_t *json = vp_grant_to_json(&grant);
                FUZZ_CHECK(json);
                json_decref(json);
                vp_grant_clear(&grant);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *nul = memchr(data, '\0', size);
        size_t first_size = nul ? (size_t) (nul - data) : size;
        _cleanup_free_ char *first = fuzz_string(data, first_size);
        _cleanup_free_ char *second = nul ? fuzz_string(nul + 1, size - first_size - 1) : NULL;
        _cleanup_policy_ vp_policy *policy = NULL;
        vp_error err = { 0 };
        int r;

        FUZZ_CHECK(vp_policy_new(&policy, &err) == 0);
        r = vp_policy_parse(policy, "10-first.conf", first, &err);
        if (r >= 0 && second)
                r = vp_policy_parse(policy, "20-second.conf", second, &err);
        if (r < 0) {
                FUZZ_CHECK(err.code == r);
                FUZZ_CHECK(err.message[0] != '\0');
                return 0;
        }

        FUZZ_CHECK(strlen(vp_policy_digest(policy)) == 64);
        json_t *json = vp_policy_to_json(policy, NULL);
        FUZZ_CHECK(json);
        json_decref(json);
        check_grants(policy);
        return 0;
}
