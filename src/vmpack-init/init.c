/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PID 1 of the guest: modules, host ports, configuration, root and shares, then the app.
 * Every failure ends in init_fail(), which reports it and powers off instead of starting a
 * shell or waiting for someone.
 */
#include "init.h"

#include "guest-protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MODULE_LIST "/etc/vmpack-init/modules"
#define FW_CFG_DIR "/sys/firmware/qemu_fw_cfg"
#define CONFIG_PATH FW_CFG_DIR "/by_name/" VP_FW_CFG_CONFIG "/raw"
#define PORTS_WAIT_MS 3000
#define CONFIG_WAIT_MS 2000

/* Seconds since the kernel started, for the debug log's record of the steps before the
 * configuration (and with it debug=1) is known. */
static double boot_seconds(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void read_config(init_config *c)
{
        static char text[VP_GUEST_CONFIG_MAX + 1];
        char error[512];
        size_t size = 0;

        if (init_wait_for_path(CONFIG_PATH, CONFIG_WAIT_MS) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_CONFIG,
                          "configuration %s not found (%s); start the VM with -fw_cfg name=%s,file=...",
                          CONFIG_PATH, access(FW_CFG_DIR, F_OK) == 0 ? "fw_cfg present" : "no fw_cfg device",
                          VP_FW_CFG_CONFIG);

        int fd = open(CONFIG_PATH, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_CONFIG, "%s: cannot open: %m", CONFIG_PATH);
        for (;;) {
                ssize_t n = read(fd, text + size, sizeof(text) - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_CONFIG, "%s: read failed: %m", CONFIG_PATH);
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > VP_GUEST_CONFIG_MAX)
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_CONFIG, "configuration larger than %d bytes",
                                  VP_GUEST_CONFIG_MAX);
        }
        close(fd);

        if (init_config_parse(text, size, c, error, sizeof(error)) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_CONFIG, "invalid configuration: %s", error);
        init_debug = c->debug;
        init_debug_log("configuration read: %zu bytes, program %s", size, c->argv[0]);
}

int main(int argc, char **argv)
{
        init_config config;
        uint64_t stdout_bytes = 0, stderr_bytes = 0;

        if (argc > 0 && init_is_status_wrapper(argv[0]))
                return init_status_wrapper_main(argc, argv);
        if (getpid() != 1) {
                fprintf(stderr, "vmpack-init: must run as PID 1 in a vmpack guest\n");
                return 1;
        }

        double started = boot_seconds();
        init_mount_early();
        init_load_modules(MODULE_LIST);
        double modules_loaded = boot_seconds();
        if (init_ports_open(PORTS_WAIT_MS) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_CONFIG,
                          "agent port %s not found within %d ms; start the VM with a virtserialport named %s",
                          VP_PORT_AGENT, PORTS_WAIT_MS, VP_PORT_AGENT);
        double ports_open = boot_seconds();
        read_config(&config);
        init_debug_log("init started at %.3f s, modules loaded at %.3f s, ports open at %.3f s", started,
                       modules_loaded, ports_open);

        /* The feature modules are in the initramfs, which is deleted at the switch of root. */
        if (config.n_shares > 0)
                init_load_modules(MODULE_LIST ".9p");
        if (config.data)
                init_load_modules(MODULE_LIST ".ext4");
        if (config.net)
                init_load_modules(MODULE_LIST ".net");
        if (config.display)
                init_load_modules(MODULE_LIST ".display");
        if (config.audio)
                init_load_modules(MODULE_LIST ".audio");

        init_mount_root(&config);
        init_switch_root();
        init_mount_data(&config);
        init_mount_shares(&config);
        init_set_hostname(&config);
        init_network(&config);
        init_setup_user(&config);
        if (config.audio)
                init_setup_audio(&config);
        if (config.display)
                init_setup_display(&config);

        int status = init_run_app(&config, &stdout_bytes, &stderr_bytes);
        if (config.display)
                status = init_display_app_status(status);
        init_agent_send("{\"event\":\"exit\",\"status\":%d,\"stdout_bytes\":%" PRIu64 ",\"stderr_bytes\":%" PRIu64 "}",
                        status, stdout_bytes, stderr_bytes);
        init_poweroff();
}
