/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Choosing KVM or TCG. A /dev/kvm that opens is not proof that KVM boots guests: a nested
 * hypervisor can hang a standard kernel forever or make QEMU abort. So the runner boots
 * under KVM with a watchdog. When the guest agent does not report "ready" in time, or QEMU
 * dies with an error that names KVM, the runner records the failure in VP_DIR_CACHE/accel
 * and uses TCG from then on. The record names the guest kernel version and the QEMU
 * version, so a new kernel or QEMU makes it try KVM again.
 */
#pragma once

#include "qemu.h"
#include "util.h"

/* Seconds a KVM boot may take before the runner declares KVM unusable. */
#define VP_KVM_BOOT_WATCHDOG_S 20

/* Return true when /dev/kvm opens and KVM_GET_API_VERSION returns 12. On false, reason
 * (when not NULL) gets a short description such as "Permission denied". */
bool vp_kvm_usable(char **ret_reason);

/*
 * Resolve the requested accelerator (--accel, else VMPACK_ACCEL, else auto) to KVM or TCG.
 * ret_notice gets a one-line message for the user (without "vmpack: " and without a
 * newline) when the choice is worth telling, else NULL.
 */
int vp_accel_choose(vp_accel requested, const char *kernel_version, const char *qemu_version,
                    vp_accel *ret, char **ret_notice, vp_error *err);

/* Record that KVM did not boot this kernel with this QEMU. ret_path gets the cache file. */
int vp_accel_remember_kvm_hang(const char *kernel_version, const char *qemu_version, char **ret_path,
                               vp_error *err);
