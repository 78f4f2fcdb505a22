/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A replacement guest PID 1 for scripts/faults, put into the initramfs through VMPACK_INIT.
 * It plays a broken or hostile guest kernel or PID 1. An app that runs as uid 1000 under
 * vmpack-init cannot do that, because it may write neither /dev/console nor the host
 * channel.
 *
 * Built with -DFAULT_PANIC: PID 1 exits at once, so the kernel panics with "Attempted to
 * kill init!". Built with -DFAULT_FLOOD: PID 1 writes numbered lines to the console (its
 * stdout, which the kernel opens on /dev/console) until the VM ends.
 * Link it statically, because the initramfs has no C library.
 */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
#if defined(FAULT_PANIC)
        static const char message[] = "faults: guest PID 1 exits now, so the kernel panics\n";
        (void) !write(STDOUT_FILENO, message, sizeof(message) - 1);
        return 1;
#elif defined(FAULT_FLOOD)
        char line[128];

        for (unsigned long n = 0;; n++) {
                int length = snprintf(line, sizeof(line),
                                      "faults: console flood line %lu .................................\n", n);
                if (write(STDOUT_FILENO, line, (size_t) length) < 0)
                        sleep(1);
        }
#else
#error "build with -DFAULT_PANIC or -DFAULT_FLOOD"
#endif
}
