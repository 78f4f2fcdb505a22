/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Validators for the permission and resource values of recipes ([Permissions], [Resources]),
 * shared with policy files and image.json so all three accept exactly the same values.
 */
#pragma once

#include "manifest.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VP_CPUS_MIN 1U
#define VP_CPUS_MAX 64U
#define VP_MEMORY_MIN_BYTES (64ULL << 20)
#define VP_MEMORY_MAX_BYTES (64ULL << 30)

/* The "valid: ..." part of messages for each value. */
#define VP_VALID_FILESYSTEMS                                                                               \
        "xdg-download, xdg-documents, xdg-desktop, xdg-music, xdg-pictures, xdg-videos, home, ~/path or "  \
        "/path, each optionally followed by :ro (the default), :rw or :create"
#define VP_VALID_NETWORK "none, uplink or a network VM name of 1 to 32 characters a-z, 0-9, -"
#define VP_VALID_USB "vendor:product USB IDs of 4 hex digits each, separated by ';', e.g. 046d:c52b"
#define VP_VALID_CPUS "a whole number from 1 to 64"
#define VP_VALID_MEMORY "a size from 64M to 64G with a K, M or G suffix; a plain number is MiB"

/* NULL-terminated lists of the values of the choice keys. */
extern const char *const vp_clipboard_choices[];
extern const char *const vp_audio_choices[];
extern const char *const vp_switch_choices[]; /* microphone, camera */
extern const char *const vp_gpu_choices[];
extern const char *const vp_display_choices[];

/*
 * Parse one filesystems= item, "LOCATION[:ro|:rw|:create]". On -EINVAL, message describes what is
 * wrong with the item (without the "valid: ..." part); -ENOMEM when out of memory.
 */
int vp_fs_permission_parse(const char *item, vp_fs_permission *ret, char *message, size_t message_size);
/* "none", "uplink" or a network VM name. */
bool vp_network_value_valid(const char *value);
/* "vendor:product" with 4 hex digits each, either case. */
bool vp_usb_id_valid(const char *id);
/* -EINVAL when value is not a number, -ERANGE when out of range. */
int vp_cpus_parse(const char *value, unsigned *ret);
int vp_memory_parse(const char *value, uint64_t *ret_bytes);
