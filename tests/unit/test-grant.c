/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "policy.h"

/* Line numbers matter: denial rules name test.conf:LINE. */
static const char policy_text[] =
        "[Limits]\n"                                                                              /* 1 */
        "filesystems=~/Work:rw;~/Shared:create;xdg-download:rw;xdg-music:ro;home:ro;/srv/data/in:rw\n" /* 2 */
        "network=uplink\n"                                                                        /* 3 */
        "clipboard=on-request\n"                                                                  /* 4 */
        "audio=playback\n"                                                                        /* 5 */
        "microphone=on\n"                                                                         /* 6 */
        "usb=046d:c52b;1050:0407\n"                                                               /* 7 */
        "display=wayland\n"                                                                       /* 8 */
        "gpu=virgl\n"                                                                             /* 9 */
        "cpus=4\n"                                                                                /* 10 */
        "memory=4G\n"                                                                             /* 11 */
        "\n"                                                                                      /* 12 */
        "[Workspace work]\n"                                                                      /* 13 */
        "Label=blue\n"                                                                            /* 14 */
        "Images=firefox;editor\n"                                                                 /* 15 */
        "Users=alice;@staff\n"                                                                    /* 16 */
        "filesystems=~/Work:rw;~/Work/Secret:ro;xdg-download:create;~/Shared:create;/srv/data/:rw\n" /* 17 */
        "network=uplink\n"                                                                        /* 18 */
        "clipboard=on-request\n"                                                                  /* 19 */
        "audio=playback\n"                                                                        /* 20 */
        "display=wayland\n"                                                                       /* 21 */
        "usb=046d:c52b;abcd:0001\n"                                                               /* 22 */
        "cpus=8\n"                                                                                /* 23 */
        "memory=2G\n"                                                                             /* 24 */
        "\n"                                                                                      /* 25 */
        "[Workspace banking]\n"                                                                   /* 26 */
        "Images=*\n"                                                                              /* 27 */
        "network=bank-vpn\n"                                                                      /* 28 */
        "display=wayland\n"                                                                       /* 29 */
        "camera=on\n"                                                                             /* 30 */
        "\n"                                                                                      /* 31 */
        "[Workspace open]\n"                                                                      /* 32 */
        "Images=*\n"                                                                              /* 33 */
        "network=uplink\n"                                                                        /* 34 */
        "microphone=on\n"                                                                         /* 35 */
        "gpu=virgl\n"                                                                             /* 36 */
        "filesystems=home:rw;xdg-music:rw\n";                                                     /* 37 */

enum { ALICE = 1000, BOB = 1001, CAROL = 1002, NOBODY = 1003 };

/* Users for Users= rules: bob is in group staff, nobody does not exist. */
static int fake_lookup(uid_t uid, char **ret_name, char ***ret_groups, void *userdata)
{
        static const struct {
                uid_t uid;
                const char *name;
                const char *groups[3];
        } users[] = {
                { ALICE, "alice", { "alice" } },
                { BOB, "bob", { "bob", "staff" } },
                { CAROL, "carol", { "carol", "users" } },
        };

        for (size_t i = 0; i < ELEMENTSOF(users); i++) {
                if (users[i].uid != uid)
                        continue;
                char **groups = strv_new();
                for (size_t j = 0; users[i].groups[j]; j++)
                        strv_extend(&groups, users[i].groups[j]);
                *ret_name = strdup(users[i].name);
                *ret_groups = groups;
                return 0;
        }
        return -ENOENT;
}

typedef struct grant_case {
        const char *name;
        const char *workspace;
        const char *image;
        uid_t uid;
        const char *ask;      /* the "permissions" object of image.json */
        unsigned cpus;        /* the recipe's; 0: not set */
        uint64_t memory_mib;  /* the recipe's; 0: not set */
        const char *override; /* options separated by spaces; NULL: none */
        const char *granted;  /* see format_grant() */
        const char *denials;  /* "permission=requested: rule [option]" lines; "" for none */
} grant_case;

static const grant_case grant_cases[] = {
        /* String permissions. */
        { "network uplink granted", "work", "firefox", ALICE, "{\"network\": \"uplink\"}", 0, 0, NULL,
          "network=uplink cpus=1 memory=256M", "" },
        { "network none asks nothing", "work", "firefox", ALICE, "{\"network\": \"none\"}", 0, 0, NULL,
          "cpus=1 memory=256M", "" },
        { "network vm not uplink", "banking", "firefox", CAROL, "{\"network\": \"uplink\"}", 0, 0, NULL,
          "cpus=1 memory=256M",
          "network=uplink: workspace 'banking' allows network=bank-vpn (test.conf:28) [--nonetwork]" },
        { "network vm under uplink limit", "banking", "firefox", CAROL, "{\"network\": \"bank-vpn\"}", 0, 0, NULL,
          "network=bank-vpn cpus=1 memory=256M", "" },
        { "network other vm", "banking", "firefox", CAROL, "{\"network\": \"tor\"}", 0, 0, NULL, "cpus=1 memory=256M",
          "network=tor: workspace 'banking' allows network=bank-vpn (test.conf:28) [--nonetwork]" },
        { "clipboard granted", "work", "editor", ALICE, "{\"clipboard\": \"on-request\"}", 0, 0, NULL,
          "clipboard=on-request cpus=1 memory=256M", "" },
        { "audio granted", "work", "editor", ALICE, "{\"audio\": \"playback\"}", 0, 0, NULL,
          "audio=playback cpus=1 memory=256M", "" },
        { "microphone no workspace rule", "work", "editor", ALICE, "{\"microphone\": \"on\"}", 0, 0, NULL,
          "cpus=1 memory=256M",
          "microphone=on: workspace 'work' (test.conf:13) has no microphone= rule [--nodevice=microphone]" },
        { "microphone granted", "open", "editor", CAROL, "{\"microphone\": \"on\"}", 0, 0, NULL,
          "microphone=on cpus=1 memory=256M", "" },
        { "camera no limits rule", "banking", "editor", CAROL, "{\"camera\": \"on\"}", 0, 0, NULL,
          "cpus=1 memory=256M", "camera=on: no [Limits] camera= rule [--nodevice=camera]" },
        { "gpu granted display denied", "open", "editor", CAROL, "{\"gpu\": \"virgl\", \"display\": \"wayland\"}", 0,
          0, NULL, "gpu=virgl cpus=1 memory=256M",
          "display=wayland: workspace 'open' (test.conf:32) has no display= rule []" },
        { "display granted", "work", "editor", ALICE, "{\"display\": \"wayland\"}", 0, 0, NULL,
          "display=wayland cpus=1 memory=256M", "" },

        /* Filesystems. */
        { "filesystem ancestor", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"~/Work/Project\", \"mode\": \"rw\"}]}", 0, 0, NULL,
          "fs=~/Work/Project:rw cpus=1 memory=256M", "" },
        { "filesystem exact", "work", "editor", ALICE, "{\"filesystems\": [{\"location\": \"~/Work\", \"mode\": \"ro\"}]}",
          0, 0, NULL, "fs=~/Work:ro cpus=1 memory=256M", "" },
        { "filesystem most specific narrows", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"~/Work/Secret/x\", \"mode\": \"rw\"}]}", 0, 0, NULL,
          "fs=~/Work/Secret/x:ro cpus=1 memory=256M",
          "filesystems=~/Work/Secret/x:rw: workspace 'work' allows only ~/Work/Secret:ro (test.conf:17) "
          "[--filesystem=~/Work/Secret/x:ro]" },
        { "filesystem not contained", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"~/Other\", \"mode\": \"ro\"}]}", 0, 0, NULL, "cpus=1 memory=256M",
          "filesystems=~/Other:ro: workspace 'work' allows no location that contains ~/Other (test.conf:17) "
          "[--nofilesystem=~/Other]" },
        { "filesystem prefix is not ancestor", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"~/Workshop\", \"mode\": \"ro\"}]}", 0, 0, NULL, "cpus=1 memory=256M",
          "filesystems=~/Workshop:ro: workspace 'work' allows no location that contains ~/Workshop (test.conf:17) "
          "[--nofilesystem=~/Workshop]" },
        { "filesystem limits narrow create", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"xdg-download\", \"mode\": \"create\"}]}", 0, 0, NULL,
          "fs=xdg-download:rw cpus=1 memory=256M",
          "filesystems=xdg-download:create: [Limits] allow only xdg-download:rw (test.conf:2) "
          "[--filesystem=xdg-download:rw]" },
        { "filesystem create granted", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"~/Shared\", \"mode\": \"create\"}]}", 0, 0, NULL,
          "fs=~/Shared:create cpus=1 memory=256M", "" },
        { "xdg name matches itself only", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"xdg-documents\", \"mode\": \"ro\"}]}", 0, 0, NULL, "cpus=1 memory=256M",
          "filesystems=xdg-documents:ro: workspace 'work' allows no location that contains xdg-documents "
          "(test.conf:17) [--nofilesystem=xdg-documents]" },
        { "absolute path normalized", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"/srv//data/./in/\", \"mode\": \"rw\"}]}", 0, 0, NULL,
          "fs=/srv//data/./in/:rw cpus=1 memory=256M", "" },
        { "absolute path not in limits", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"/srv/data/x\", \"mode\": \"ro\"}]}", 0, 0, NULL, "cpus=1 memory=256M",
          "filesystems=/srv/data/x:ro: [Limits] allow no location that contains /srv/data/x (test.conf:2) "
          "[--nofilesystem=/srv/data/x]" },
        { "absolute prefix is not ancestor", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"/srv/database\", \"mode\": \"ro\"}]}", 0, 0, NULL, "cpus=1 memory=256M",
          "filesystems=/srv/database:ro: workspace 'work' allows no location that contains /srv/database "
          "(test.conf:17) [--nofilesystem=/srv/database]" },
        { "home contains tilde paths", "open", "editor", CAROL,
          "{\"filesystems\": [{\"location\": \"~/Docs/x\", \"mode\": \"rw\"}]}", 0, 0, NULL,
          "fs=~/Docs/x:ro cpus=1 memory=256M",
          "filesystems=~/Docs/x:rw: [Limits] allow only home:ro (test.conf:2) [--filesystem=~/Docs/x:ro]" },
        { "home does not contain xdg", "open", "editor", CAROL,
          "{\"filesystems\": [{\"location\": \"xdg-videos\", \"mode\": \"ro\"}]}", 0, 0, NULL, "cpus=1 memory=256M",
          "filesystems=xdg-videos:ro: workspace 'open' allows no location that contains xdg-videos (test.conf:37) "
          "[--nofilesystem=xdg-videos]" },
        { "xdg name granted", "open", "editor", CAROL,
          "{\"filesystems\": [{\"location\": \"xdg-music\", \"mode\": \"ro\"}]}", 0, 0, NULL,
          "fs=xdg-music:ro cpus=1 memory=256M", "" },
        { "filesystem no workspace rule", "banking", "editor", CAROL,
          "{\"filesystems\": [{\"location\": \"xdg-download\", \"mode\": \"ro\"}]}", 0, 0, NULL, "cpus=1 memory=256M",
          "filesystems=xdg-download:ro: workspace 'banking' (test.conf:26) has no filesystems= rule "
          "[--nofilesystem=xdg-download]" },

        /* USB. */
        { "usb listed in both", "work", "editor", ALICE, "{\"usb\": [\"046D:C52B\"]}", 0, 0, NULL,
          "usb=046d:c52b cpus=1 memory=256M", "" },
        { "usb not in limits", "work", "editor", ALICE, "{\"usb\": [\"abcd:0001\", \"1050:0407\"]}", 0, 0, NULL,
          "cpus=1 memory=256M",
          "usb=abcd:0001: [Limits] allow usb=046d:c52b;1050:0407 (test.conf:7) [--nodevice=usb]\n"
          "usb=1050:0407: workspace 'work' allows usb=046d:c52b;abcd:0001 (test.conf:22) [--nodevice=usb]" },

        /* Image, user and workspace. */
        { "image not allowed", "work", "vlc", ALICE, "{}", 0, 0, NULL, "cpus=1 memory=256M",
          "image=vlc: workspace 'work' allows Images=firefox;editor (test.conf:15) []" },
        { "user through group", "work", "firefox", BOB, "{}", 0, 0, NULL, "cpus=1 memory=256M", "" },
        { "user not listed", "work", "firefox", CAROL, "{}", 0, 0, NULL, "cpus=1 memory=256M",
          "user=carol: workspace 'work' allows Users=alice;@staff (test.conf:16) []" },
        { "unknown uid", "work", "firefox", NOBODY, "{}", 0, 0, NULL, "cpus=1 memory=256M",
          "user=uid 1003: workspace 'work' allows Users=alice;@staff (test.conf:16) []" },
        { "no users rule allows all", "banking", "firefox", NOBODY, "{}", 0, 0, NULL, "cpus=1 memory=256M", "" },
        { "workspace missing", "nosuch", "firefox", ALICE, "{\"network\": \"uplink\"}", 0, 0, NULL, "cpus=0 memory=0M",
          "workspace=nosuch: the policy has no [Workspace nosuch] section (workspaces: banking, open, work) []" },

        /* CPUs and memory are capped, never denied. */
        { "cpus capped by limits", "work", "editor", ALICE, "{}", 16, 0, NULL, "cpus=4 memory=256M", "" },
        { "cpus below caps", "work", "editor", ALICE, "{}", 3, 0, NULL, "cpus=3 memory=256M", "" },
        { "memory capped by workspace", "work", "editor", ALICE, "{}", 0, 8192, NULL, "cpus=1 memory=2048M", "" },
        { "no rule caps at default", "banking", "editor", CAROL, "{}", 4, 1024, NULL, "cpus=1 memory=256M", "" },

        /* Overrides narrow the request before it is intersected. */
        { "override removes network", "banking", "editor", CAROL, "{\"network\": \"uplink\"}", 0, 0, "--nonetwork",
          "cpus=1 memory=256M", "" },
        { "override narrows mode", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"~/Work/Secret/x\", \"mode\": \"rw\"}]}", 0, 0,
          "--filesystem=~/Work/Secret/x:ro", "fs=~/Work/Secret/x:ro cpus=1 memory=256M", "" },
        { "override removes location", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"~/Other\", \"mode\": \"ro\"}, {\"location\": \"~/Work\", \"mode\": "
          "\"rw\"}]}",
          0, 0, "--nofilesystem=~/Other/", "fs=~/Work:rw cpus=1 memory=256M", "" },
        { "override removes devices", "banking", "editor", CAROL, "{\"camera\": \"on\", \"usb\": [\"046d:c52b\"]}", 0, 0,
          "--nodevice=camera --nodevice=usb", "cpus=1 memory=256M", "" },
        { "override narrows cpus and memory", "work", "editor", ALICE, "{}", 4, 1024, "--cpus=2 --memory=512M",
          "cpus=2 memory=512M", "" },
        { "override cannot widen cpus", "work", "editor", ALICE, "{}", 2, 0, "--cpus=4", "cpus=2 memory=256M", "" },
        { "override cannot widen mode", "work", "editor", ALICE,
          "{\"filesystems\": [{\"location\": \"~/Work\", \"mode\": \"ro\"}]}", 0, 0, "--filesystem=~/Work:rw",
          "fs=~/Work:ro cpus=1 memory=256M", "" },
};

static void format_grant(const vp_grant *grant, char *buf, size_t size)
{
        const vp_permissions *p = &grant->permissions;
        const struct {
                const char *key;
                const char *value;
        } choices[] = {
                { "network", p->network }, { "clipboard", p->clipboard }, { "audio", p->audio },
                { "microphone", p->microphone }, { "camera", p->camera }, { "gpu", p->gpu },
                { "display", p->display },
        };
        size_t n = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < p->n_filesystems; i++)
                n += (size_t) snprintf(buf + n, size - n, "fs=%s:%s ", p->filesystems[i].location,
                                       vp_share_mode_to_string(p->filesystems[i].mode));
        for (size_t i = 0; i < ELEMENTSOF(choices); i++)
                if (choices[i].value)
                        n += (size_t) snprintf(buf + n, size - n, "%s=%s ", choices[i].key, choices[i].value);
        STRV_FOREACH(id, p->usb)
                n += (size_t) snprintf(buf + n, size - n, "usb=%s ", *id);
        snprintf(buf + n, size - n, "cpus=%u memory=%lluM", grant->cpus,
                 (unsigned long long) (grant->memory_bytes >> 20));
}

static void format_denials(const vp_grant *grant, char *buf, size_t size)
{
        size_t n = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < grant->n_denials; i++) {
                const vp_denial *d = &grant->denials[i];
                n += (size_t) snprintf(buf + n, size - n, "%s%s=%s: %s [%s]", i > 0 ? "\n" : "", d->permission,
                                       d->requested, d->rule, d->option ? d->option : "");
        }
}

static vp_policy *load_policy(void)
{
        vp_policy *policy = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_policy_new(&policy, &err), 0);
        if (vp_policy_parse(policy, "test.conf", policy_text, &err) < 0)
                print_message("policy: %s\n", err.message);
        assert_int_equal(err.code, 0);
        return policy;
}

static void grant_table(void **state)
{
        _cleanup_policy_ vp_policy *policy = load_policy();

        for (size_t i = 0; i < ELEMENTSOF(grant_cases); i++) {
                const grant_case *c = &grant_cases[i];
                _cleanup_override_ vp_override *override = NULL;
                _cleanup_strv_free_ char **args = NULL;
                json_t *json = json_loads(c->ask, 0, NULL);
                vp_permissions ask = { 0 };
                vp_grant grant = { 0 };
                vp_error err = { 0 };
                char granted[1024], denials[4096];

                assert_non_null(json);
                if (vp_permissions_from_json(json, &ask, &err) < 0)
                        print_message("case '%s': %s\n", c->name, err.message);
                assert_int_equal(err.code, 0);
                json_decref(json);
                if (c->override) {
                        _cleanup_free_ char *copy = strdup(c->override);
                        for (char *save = NULL, *arg = strtok_r(copy, " ", &save); arg; arg = strtok_r(NULL, " ", &save))
                                strv_extend(&args, arg);
                        assert_int_equal(vp_override_parse(args, &override, &err), 0);
                }

                vp_grant_request request = {
                        .workspace = c->workspace,
                        .image = c->image,
                        .uid = c->uid,
                        .ask = &ask,
                        .cpus = c->cpus,
                        .memory_bytes = c->memory_mib << 20,
                        .override = override,
                        .lookup = fake_lookup,
                };
                assert_int_equal(vp_grant_compute(policy, &request, &grant, &err), 0);
                format_grant(&grant, granted, sizeof(granted));
                format_denials(&grant, denials, sizeof(denials));
                if (strcmp(granted, c->granted) != 0 || strcmp(denials, c->denials) != 0)
                        print_message("case '%s':\n  granted: %s\n  denials: %s\n", c->name, granted, denials);
                assert_string_equal(granted, c->granted);
                assert_string_equal(denials, c->denials);
                vp_grant_clear(&grant);
                vp_permissions_clear(&ask);
        }
}

static void grant_label_and_notes(void **state)
{
        _cleanup_policy_ vp_policy *policy = load_policy();
        vp_grant_request request = { .workspace = "work", .image = "editor", .uid = ALICE, .cpus = 16,
                                     .lookup = fake_lookup };
        vp_grant grant = { 0 };
        vp_error err = { 0 };

        assert_int_equal(vp_grant_compute(policy, &request, &grant, &err), 0);
        assert_string_equal(grant.workspace, "work");
        assert_string_equal(grant.label, "blue");
        assert_string_equal(grant.notes[0], "cpus: 16 requested, capped to 4 by [Limits] (test.conf:10)");
        assert_null(grant.notes[1]);
        vp_grant_clear(&grant);
}

static void override_notes_unused_entries(void **state)
{
        _cleanup_policy_ vp_policy *policy = load_policy();
        char *args[] = { "--nofilesystem=~/Gone", "--filesystem=~/Work:rw", "--cpus=8", NULL };
        vp_fs_permission fs = { .location = (char *) "~/Work", .mode = VP_SHARE_RO };
        vp_permissions ask = { .filesystems = &fs, .n_filesystems = 1 };
        _cleanup_override_ vp_override *override = NULL;
        vp_grant grant = { 0 };
        vp_error err = { 0 };

        assert_int_equal(vp_override_parse(args, &override, &err), 0);
        vp_grant_request request = { .workspace = "work", .image = "editor", .uid = ALICE, .ask = &ask, .cpus = 2,
                                     .override = override, .lookup = fake_lookup };
        assert_int_equal(vp_grant_compute(policy, &request, &grant, &err), 0);
        assert_int_equal(grant.n_denials, 0);
        assert_int_equal(grant.permissions.filesystems[0].mode, VP_SHARE_RO);
        assert_int_equal(grant.cpus, 2);
        assert_string_equal(grant.notes[0], "override --nofilesystem=~/Gone ignored: the recipe does not request ~/Gone");
        assert_string_equal(grant.notes[1], "override --filesystem=~/Work:rw ignored: the recipe requests only :ro");
        assert_string_equal(grant.notes[2], "override --cpus=8 ignored: the recipe requests only 2");
        assert_null(grant.notes[3]);
        vp_grant_clear(&grant);
}

static void grant_filesystem_roots(void **state)
{
        _cleanup_policy_ vp_policy *policy = load_policy();
        vp_fs_permission fs[] = {
                { .location = (char *) "~/Work/Secret/x", .mode = VP_SHARE_RO },
                { .location = (char *) "/srv//data/./in/sub", .mode = VP_SHARE_RW },
                { .location = (char *) "xdg-download", .mode = VP_SHARE_RW },
                { .location = (char *) "~/Other", .mode = VP_SHARE_RO },
        };
        vp_permissions ask = { .filesystems = fs, .n_filesystems = ELEMENTSOF(fs) };
        vp_grant_request request = { .workspace = "work", .image = "editor", .uid = ALICE, .ask = &ask,
                                     .lookup = fake_lookup };
        vp_grant grant = { 0 };
        vp_error err = { 0 };

        assert_int_equal(vp_grant_compute(policy, &request, &grant, &err), 0);
        /* ~/Other is denied, so it has neither a grant nor a root. */
        assert_int_equal(grant.permissions.n_filesystems, 3);
        assert_int_equal(strv_length(grant.filesystem_roots), 3);
        /* The workspace's ~/Work/Secret is more specific than the limits' ~/Work. */
        assert_string_equal(grant.filesystem_roots[0], "~/Work/Secret");
        /* The limits' /srv/data/in is more specific than the workspace's /srv/data/. */
        assert_string_equal(grant.filesystem_roots[1], "/srv/data/in");
        assert_string_equal(grant.filesystem_roots[2], "xdg-download");
        vp_grant_clear(&grant);
}

static void denial_message_text(void **state)
{
        _cleanup_policy_ vp_policy *policy = load_policy();
        vp_permissions ask = { .network = (char *) "uplink" };
        vp_grant_request request = { .workspace = "banking", .image = "firefox", .ask = &ask, .lookup = fake_lookup };
        vp_grant grant = { 0 };
        vp_error err = { 0 };

        assert_int_equal(vp_grant_compute(policy, &request, &grant, &err), 0);
        _cleanup_free_ char *message = vp_grant_denial_message(&grant, "bank");
        assert_string_equal(message, "network=uplink is not granted: workspace 'banking' allows network=bank-vpn "
                                     "(test.conf:28); start without it: vmpack override bank --nonetwork");
        vp_grant_clear(&grant);

        request.workspace = "work";
        request.image = "vlc";
        request.uid = CAROL;
        assert_int_equal(vp_grant_compute(policy, &request, &grant, &err), 0);
        _cleanup_free_ char *refusal = vp_grant_denial_message(&grant, "bank");
        assert_string_equal(refusal, "image 'vlc' is not allowed in workspace 'work': workspace 'work' allows "
                                     "Images=firefox;editor (test.conf:15)\n"
                                     "user 'carol' may not use workspace 'work': workspace 'work' allows "
                                     "Users=alice;@staff (test.conf:16)");
        vp_grant_clear(&grant);
}

static void denial_message_empty(void **state)
{
        vp_grant grant = { 0 };
        _cleanup_free_ char *message = vp_grant_denial_message(&grant, "x");

        assert_string_equal(message, "");
}

static void grant_json_shape(void **state)
{
        _cleanup_policy_ vp_policy *policy = load_policy();
        vp_permissions ask = { .network = (char *) "tor", .audio = (char *) "playback" };
        vp_grant_request request = { .workspace = "work", .image = "editor", .uid = ALICE, .ask = &ask,
                                     .lookup = fake_lookup };
        vp_grant grant = { 0 };
        vp_error err = { 0 };

        assert_int_equal(vp_grant_compute(policy, &request, &grant, &err), 0);
        json_t *json = vp_grant_to_json(&grant);
        assert_non_null(json);
        assert_string_equal(json_string_value(json_object_get(json, "workspace")), "work");
        assert_string_equal(json_string_value(json_object_get(json_object_get(json, "permissions"), "audio")),
                            "playback");
        assert_true(json_is_null(json_object_get(json_object_get(json, "permissions"), "network")));
        json_t *denial = json_array_get(json_object_get(json, "denials"), 0);
        assert_string_equal(json_string_value(json_object_get(denial, "permission")), "network");
        assert_string_equal(json_string_value(json_object_get(denial, "requested")), "tor");
        assert_string_equal(json_string_value(json_object_get(denial, "source")), "test.conf:18");
        assert_string_equal(json_string_value(json_object_get(denial, "option")), "--nonetwork");
        assert_int_equal(json_integer_value(json_object_get(json, "memory_bytes")), 256LL << 20);
        json_decref(json);
        vp_grant_clear(&grant);
}

static void system_lookup_root(void **state)
{
        _cleanup_strv_free_ char **groups = NULL;
        _cleanup_free_ char *name = NULL;

        assert_int_equal(vp_user_lookup_system(0, &name, &groups, NULL), 0);
        assert_string_equal(name, "root");
        assert_true(strv_contains(groups, "root"));
}

/* Override options that must be rejected when the override is set. */
static void override_check_rejects_widening(void **state)
{
        static const struct {
                const char *option;
                const char *expected;
        } cases[] = {
                { "--nofilesystem=~/Other", "override can only narrow: the recipe does not ask for filesystems=~/Other" },
                { "--filesystem=~/Other:ro", "override can only narrow: the recipe does not ask for filesystems=~/Other" },
                { "--filesystem=~/Work:rw", "override can only narrow: the recipe asks for filesystems=~/Work:ro, not :rw" },
                { "--nonetwork", "override can only narrow: the recipe does not ask for network" },
                { "--nodevice=camera", "override can only narrow: the recipe does not ask for camera" },
                { "--nodevice=usb", "override can only narrow: the recipe does not ask for usb" },
                { "--cpus=4", "override can only narrow: the recipe asks for 2 CPUs, not 4" },
                { "--memory=1G", "override can only narrow: the recipe asks for 512 MiB of memory, not 1024 MiB" },
        };
        vp_fs_permission fs = { .location = (char *) "~/Work", .mode = VP_SHARE_RO };
        vp_permissions ask = { .filesystems = &fs, .n_filesystems = 1, .network = (char *) "none",
                               .audio = (char *) "playback" };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_override_ vp_override *override = NULL;
                char *args[] = { (char *) cases[i].option, NULL };
                vp_error err = { 0 };

                assert_int_equal(vp_override_parse(args, &override, &err), 0);
                assert_int_equal(vp_override_check(override, &ask, 2, 512ULL << 20, &err), -EINVAL);
                if (strcmp(err.message, cases[i].expected) != 0)
                        print_message("option %s: %s\n", cases[i].option, err.message);
                assert_string_equal(err.message, cases[i].expected);
        }
}

static void override_check_accepts_narrowing(void **state)
{
        char *args[] = { "--nofilesystem=~/Work/", "--filesystem=xdg-download:ro", "--nodevice=audio", "--cpus=1",
                         "--memory=256M", NULL };
        vp_fs_permission fs[] = { { .location = (char *) "~/Work", .mode = VP_SHARE_RW },
                                  { .location = (char *) "xdg-download", .mode = VP_SHARE_CREATE } };
        vp_permissions ask = { .filesystems = fs, .n_filesystems = 2, .audio = (char *) "playback" };
        _cleanup_override_ vp_override *override = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_override_parse(args, &override, &err), 0);
        assert_int_equal(vp_override_check(override, &ask, 0, 0, &err), 0);
}

static void override_parse_errors(void **state)
{
        static const struct {
                const char *option;
                const char *expected;
        } cases[] = {
                { "--network", "override '--network': unknown option (valid: --nofilesystem=LOCATION," },
                { "--nodevice=printer", "override '--nodevice=printer': unknown device" },
                { "--filesystem=~/Work", "the location needs a mode, e.g. :ro" },
                { "--filesystem=~/Work:create", "an override can narrow a mode to ro or rw only" },
                { "--nofilesystem=~/Work:ro", "--nofilesystem takes a location without a mode" },
                { "--nofilesystem=~/../etc", "'~/../etc' contains '..'" },
                { "--cpus=0", "invalid CPU count" },
                { "--memory=lots", "invalid size" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_override_ vp_override *override = NULL;
                char *args[] = { (char *) cases[i].option, NULL };
                vp_error err = { 0 };

                assert_int_equal(vp_override_parse(args, &override, &err), -EINVAL);
                if (!strstr(err.message, cases[i].expected))
                        print_message("option %s: %s\n", cases[i].option, err.message);
                assert_non_null(strstr(err.message, cases[i].expected));
                assert_null(override);
        }
}

static void override_json_round_trip(void **state)
{
        char *args[] = { "--nofilesystem=~/A", "--filesystem=xdg-download:ro", "--nonetwork", "--nodevice=gpu",
                         "--nodevice=usb", "--cpus=2", "--memory=768M", NULL };
        _cleanup_override_ vp_override *override = NULL, *copy = NULL;
        _cleanup_strv_free_ char **again = NULL;
        vp_error err = { 0 };

        assert_int_equal(vp_override_parse(args, &override, &err), 0);
        json_t *json = vp_override_to_json(override);
        assert_non_null(json);
        assert_int_equal(vp_override_from_json(json, &copy, &err), 0);
        json_decref(json);

        again = vp_override_to_args(copy);
        assert_int_equal(strv_length(again), 7);
        for (size_t i = 0; args[i]; i++)
                assert_string_equal(again[i], args[i]);
}

static void override_from_json_rejects(void **state)
{
        static const char *const inputs[] = { "[]", "{}", "{\"options\": [1]}", "{\"options\": [\"--bogus\"]}" };

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                _cleanup_override_ vp_override *override = NULL;
                json_t *json = json_loads(inputs[i], JSON_DECODE_ANY, NULL);
                vp_error err = { 0 };

                assert_non_null(json);
                assert_int_equal(vp_override_from_json(json, &override, &err), -EINVAL);
                json_decref(json);
        }
}

static void permissions_json_errors(void **state)
{
        static const struct {
                const char *json;
                const char *expected;
        } cases[] = {
                { "{\"filesystems\": [{\"location\": \"~/a/../b\", \"mode\": \"ro\"}]}", "contains '..'" },
                { "{\"filesystems\": [{\"location\": \"/\", \"mode\": \"ro\"}]}", "would share the whole host" },
                { "{\"filesystems\": [{\"location\": \"~/a\", \"mode\": \"rx\"}]}", "unknown mode" },
                { "{\"filesystems\": [{\"location\": \"~/a\"}]}", "needs location and mode" },
                { "{\"filesystems\": {}}", "filesystems is not an array" },
                { "{\"network\": \"UPLINK\"}", "invalid network value" },
                { "{\"audio\": \"on\"}", "invalid audio value" },
                { "{\"usb\": [\"xyz\"]}", "usb[0] is not a vendor:product ID" },
                { "{\"printer\": \"on\"}", "unknown permission 'printer'" },
                { "[]", "not a JSON object" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_t *json = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
                vp_permissions permissions = { 0 };
                vp_error err = { 0 };

                assert_non_null(json);
                assert_int_equal(vp_permissions_from_json(json, &permissions, &err), -EINVAL);
                if (!strstr(err.message, cases[i].expected))
                        print_message("input %s: %s\n", cases[i].json, err.message);
                assert_non_null(strstr(err.message, cases[i].expected));
                json_decref(json);
        }
}

static void permissions_json_round_trip(void **state)
{
        vp_fs_permission fs[] = { { .location = (char *) "~/Work", .mode = VP_SHARE_CREATE } };
        char *usb[] = { "046d:c52b", NULL };
        vp_permissions source = { .filesystems = fs, .n_filesystems = 1, .network = (char *) "uplink",
                                  .display = (char *) "wayland", .usb = usb };
        vp_permissions copy = { 0 };
        vp_error err = { 0 };

        json_t *json = vp_permissions_to_json(&source);
        assert_int_equal(vp_permissions_from_json(json, &copy, &err), 0);
        assert_int_equal(copy.n_filesystems, 1);
        assert_string_equal(copy.filesystems[0].location, "~/Work");
        assert_int_equal(copy.filesystems[0].mode, VP_SHARE_CREATE);
        assert_string_equal(copy.network, "uplink");
        assert_string_equal(copy.display, "wayland");
        assert_null(copy.audio);
        assert_string_equal(copy.usb[0], "046d:c52b");
        json_decref(json);
        vp_permissions_clear(&copy);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(grant_table),
                cmocka_unit_test(grant_label_and_notes),
                cmocka_unit_test(override_notes_unused_entries),
                cmocka_unit_test(grant_filesystem_roots),
                cmocka_unit_test(denial_message_text),
                cmocka_unit_test(denial_message_empty),
                cmocka_unit_test(grant_json_shape),
                cmocka_unit_test(system_lookup_root),
                cmocka_unit_test(override_check_rejects_widening),
                cmocka_unit_test(override_check_accepts_narrowing),
                cmocka_unit_test(override_parse_errors),
                cmocka_unit_test(override_json_round_trip),
                cmocka_unit_test(override_from_json_rejects),
                cmocka_unit_test(permissions_json_errors),
                cmocka_unit_test(permissions_json_round_trip),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
