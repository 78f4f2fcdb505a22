/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fw_cfg configuration: "key=value" lines, backslash escapes, repeated keys as lists. */
#include "init.h"

#include "guest-protocol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int config_error(char *error, size_t error_size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int config_error(char *error, size_t error_size, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(error, error_size, fmt, ap);
        va_end(ap);
        return -1;
}

/* Decode "\\" and "\n" in place. Returns -1 on any other escape or a trailing backslash. */
static int unescape(char *s)
{
        char *out = s;

        for (const char *in = s; *in; in++) {
                if (*in != '\\') {
                        *out++ = *in;
                        continue;
                }
                in++;
                if (*in == '\\')
                        *out++ = '\\';
                else if (*in == 'n')
                        *out++ = '\n';
                else
                        return -1;
        }
        *out = '\0';
        return 0;
}

static bool path_valid_with(const char *p, bool allow_newline)
{
        if (p[0] != '/' || strlen(p) >= INIT_PATH_MAX)
                return false;
        for (const char *s = p; *s && !allow_newline; s++)
                if (*s == '\n')
                        return false;
        /* No "." or ".." components: a share must not land outside its declared place. */
        for (const char *s = p; (s = strchr(s, '/'));) {
                s++;
                size_t n = strcspn(s, "/");
                if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return false;
        }
        return true;
}

static bool path_valid(const char *p)
{
        return path_valid_with(p, false);
}

/* A share's mount point may be any folder name the host user chose, newlines included
 * (the line format escapes them), but not "/" itself. */
static bool share_path_valid(const char *p)
{
        return path_valid_with(p, true) && strcmp(p, "/") != 0;
}

static bool user_name_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > INIT_USER_NAME_MAX || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z')))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
                        return false;
        return true;
}

static bool hostname_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 63 || s[0] == '-')
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '-' || *p == '.'))
                        return false;
        return true;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
        char *end;

        if (!*s || *s < '0' || *s > '9')
                return -1;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || *end || v > max)
                return -1;
        *ret = v;
        return 0;
}

static int ipv4_valid(const char *s)
{
        struct in_addr a;

        return strlen(s) < 16 && inet_pton(AF_INET, s, &a) == 1;
}

/* "ADDRESS/PREFIX,GATEWAY,DNS", where GATEWAY and DNS may be empty. */
static int parse_net(char *v, init_config *c)
{
        char *gateway = strchr(v, ',');
        char *dns = gateway ? strchr(gateway + 1, ',') : NULL;
        char *slash = strchr(v, '/');
        unsigned long prefix;

        if (!gateway || !dns || !slash || slash > gateway)
                return -1;
        *gateway++ = '\0';
        *dns++ = '\0';
        *slash = '\0';
        if (!ipv4_valid(v) || parse_uint(slash + 1, 32, &prefix) < 0)
                return -1;
        if ((*gateway && !ipv4_valid(gateway)) || (*dns && !ipv4_valid(dns)))
                return -1;

        c->net = true;
        strcpy(c->net_address, v);
        c->net_prefix = (unsigned) prefix;
        strcpy(c->net_gateway, gateway);
        strcpy(c->net_dns, dns);
        return 0;
}

/* "TAG:MODE:GUEST_PATH". The tag has no colon, but the path may have one. */
static int parse_share(char *v, init_config *c)
{
        char *mode = strchr(v, ':');
        char *path = mode ? strchr(mode + 1, ':') : NULL;

        if (!mode || !path)
                return -1;
        *mode++ = '\0';
        *path++ = '\0';
        if (!*v || strlen(v) > 255 || !share_path_valid(path))
                return -1;
        if (strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0)
                return -1;
        if (c->n_shares >= INIT_SHARES_MAX)
                return -1;

        init_share *grown = realloc(c->shares, (c->n_shares + 1) * sizeof(*grown));
        if (!grown)
                return -1;
        c->shares = grown;
        init_share *s = &c->shares[c->n_shares];
        s->tag = strdup(v);
        s->path = strdup(path);
        s->writable = strcmp(mode, "rw") == 0;
        if (!s->tag || !s->path) {
                free(s->tag);
                free(s->path);
                return -1;
        }
        c->n_shares++;
        return 0;
}

static int strv_append(char ***v, size_t *n, size_t max, const char *value)
{
        if (*n >= max)
                return -1;
        char **grown = realloc(*v, (*n + 2) * sizeof(char *));
        if (!grown)
                return -1;
        *v = grown;
        grown[*n] = strdup(value);
        if (!grown[*n])
                return -1;
        grown[++*n] = NULL;
        return 0;
}

static int set_string(char **field, const char *value)
{
        char *copy = strdup(value);

        if (!copy)
                return -1;
        free(*field);
        *field = copy;
        return 0;
}

static int apply_key(init_config *c, const char *key, char *v)
{
        unsigned long n;

        if (strcmp(key, "version") == 0) {
                if (parse_uint(v, 1000, &n) < 0)
                        return -1;
                c->version = (unsigned) n;
                return 0;
        }
        if (strcmp(key, "hostname") == 0)
                return hostname_valid(v) ? set_string(&c->hostname, v) : -1;
        if (strcmp(key, "root") == 0)
                return path_valid(v) ? set_string(&c->root, v) : -1;
        if (strcmp(key, "data") == 0)
                return path_valid(v) ? set_string(&c->data, v) : -1;
        if (strcmp(key, "uid") == 0) {
                /* 0 is rejected: the app never runs as root. 65534 is nobody. */
                if (parse_uint(v, 65533, &n) < 0 || n == 0)
                        return -1;
                c->uid = (uid_t) n;
                return 0;
        }
        if (strcmp(key, "user") == 0)
                return user_name_valid(v) ? set_string(&c->user, v) : -1;
        if (strcmp(key, "home") == 0)
                return path_valid(v) ? set_string(&c->home, v) : -1;
        if (strcmp(key, "cwd") == 0)
                return path_valid(v) ? set_string(&c->cwd, v) : -1;
        if (strcmp(key, "arg") == 0)
                return strv_append(&c->argv, &c->argc, INIT_ARGS_MAX, v);
        if (strcmp(key, "env") == 0) {
                const char *eq = strchr(v, '=');
                if (!eq || eq == v)
                        return -1;
                return strv_append(&c->env, &c->n_env, INIT_ENV_MAX, v);
        }
        if (strcmp(key, "share") == 0)
                return parse_share(v, c);
        if (strcmp(key, "net") == 0)
                return parse_net(v, c);
        if (strcmp(key, "display") == 0) {
                if (strcmp(v, "wayland") != 0 && strcmp(v, "none") != 0)
                        return -1;
                c->display = v[0] == 'w';
                return 0;
        }
        if (strcmp(key, "audio") == 0) {
                if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
                        return -1;
                c->audio = v[0] == '1';
                return 0;
        }
        if (strcmp(key, "gpu") == 0) {
                if (strcmp(v, "virgl") != 0 && strcmp(v, "none") != 0)
                        return -1;
                c->virgl = v[0] == 'v';
                return 0;
        }
        if (strcmp(key, "debug") == 0) {
                if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
                        return -1;
                c->debug = v[0] == '1';
                return 0;
        }
        return -2;
}

static int fill_defaults(init_config *c, char *error, size_t error_size)
{
        if (c->version != VP_GUEST_CONFIG_VERSION)
                return config_error(error, error_size, "version is %u, this init reads version %d", c->version,
                                    VP_GUEST_CONFIG_VERSION);
        if (!c->root)
                return config_error(error, error_size, "missing key 'root'");
        if (c->argc == 0)
                return config_error(error, error_size, "missing key 'arg' (the program to run)");
        if (c->argv[0][0] == '\0')
                return config_error(error, error_size, "the first 'arg' (the program) is empty");

        if (!c->hostname && set_string(&c->hostname, "vmpack") < 0)
                return -1;
        if (!c->user && set_string(&c->user, "user") < 0)
                return -1;
        if (c->uid == 0)
                c->uid = 1000;
        if (!c->home) {
                char home[INIT_USER_NAME_MAX + 8];
                snprintf(home, sizeof(home), "/home/%s", c->user);
                if (set_string(&c->home, home) < 0)
                        return -1;
        }
        if (!c->cwd && set_string(&c->cwd, c->home) < 0)
                return -1;
        return 0;
}

int init_config_parse(const char *text, size_t size, init_config *c, char *error, size_t error_size)
{
        char *copy;
        unsigned lineno = 0;
        int r = 0;

        memset(c, 0, sizeof(*c));
        if (size > VP_GUEST_CONFIG_MAX)
                return config_error(error, error_size, "larger than %d bytes", VP_GUEST_CONFIG_MAX);
        if (memchr(text, '\0', size))
                return config_error(error, error_size, "contains a NUL byte");
        copy = strndup(text, size);
        if (!copy)
                return config_error(error, error_size, "out of memory");

        for (char *line = copy, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                lineno++;
                if (!*line)
                        continue;

                char *eq = strchr(line, '=');
                if (!eq || eq == line) {
                        r = config_error(error, error_size, "line %u: expected key=value", lineno);
                        break;
                }
                *eq = '\0';
                if (unescape(eq + 1) < 0) {
                        r = config_error(error, error_size, "line %u: key '%s': invalid backslash escape "
                                                            "(only \\\\ and \\n)", lineno, line);
                        break;
                }
                int k = apply_key(c, line, eq + 1);
                if (k == -2) {
                        r = config_error(error, error_size, "line %u: unknown key '%s'", lineno, line);
                        break;
                }
                if (k < 0) {
                        r = config_error(error, error_size, "line %u: invalid value for key '%s'", lineno, line);
                        break;
                }
        }
        free(copy);

        if (r == 0) {
                snprintf(error, error_size, "out of memory");
                r = fill_defaults(c, error, error_size);
        }
        if (r < 0)
                init_config_free(c);
        return r;
}

void init_config_free(init_config *c)
{
        free(c->hostname);
        free(c->root);
        free(c->data);
        free(c->user);
        free(c->home);
        free(c->cwd);
        free(c->compositor_socket);
        for (size_t i = 0; i < c->argc; i++)
                free(c->argv[i]);
        free(c->argv);
        for (size_t i = 0; i < c->n_env; i++)
                free(c->env[i]);
        free(c->env);
        for (size_t i = 0; i < c->n_shares; i++) {
                free(c->shares[i].tag);
                free(c->shares[i].path);
        }
        free(c->shares);
        memset(c, 0, sizeof(*c));
}
