/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "vmpack.h"

#include <getopt.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

/* Narrowest REASON column on a terminal, however narrow the terminal is. */
#define REASON_MIN_COLUMNS 20

static void print_help(FILE *out)
{
        fputs("Usage: vmpack audit [OPTIONS]\n\n"
              "Show vmpackd's audit log: authorization decisions (allow, deny) and events such as\n"
              "VMs that started or stopped, oldest first. Administrators see every entry; users\n"
              "see the entries they caused and those about their own instances.\n\n"
              "Options:\n"
              "      --since T       entries at or after T: a UTC date (2026-12-04), a UTC time\n"
              "                      (2026-12-04T21:30:00Z), or an age in seconds, minutes, hours\n"
              "                      or days (90s, 30m, 2h, 7d) (default: all)\n"
              "      --instance NAME entries about the instance NAME (default: all)\n"
              "      --limit N       the newest N entries, 1 to 10000 (default: 200)\n"
              "      --json          print a JSON array of entry objects (see docs/api.md, Audit)\n"
              "  -h, --help          show this help\n\n"
              "Columns: TIME (UTC), USER (the caller's name, or uid), ACTION, INSTANCE,\n"
              "DECISION (allow, deny or event) and REASON, which is cut to the terminal width.\n",
              out);
}

/* Parse T of --since into milliseconds since the epoch. Returns false when invalid. */
static bool parse_since(const char *text, int64_t now_ms, int64_t *ret_ms)
{
        struct tm tm = {};
        const char *end;
        char *unit;

        end = strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (!end || *end) {
                tm = (struct tm) {};
                end = strptime(text, "%Y-%m-%d", &tm);
        }
        if (end && !*end) {
                time_t t = timegm(&tm);
                if (t == (time_t) -1)
                        return false;
                *ret_ms = (int64_t) t * 1000;
                return true;
        }

        if (text[0] < '0' || text[0] > '9')
                return false;
        errno = 0;
        unsigned long long value = strtoull(text, &unit, 10);
        if (errno || unit == text || strlen(unit) != 1)
                return false;
        int64_t seconds_per_unit;
        switch (unit[0]) {
        case 's':
                seconds_per_unit = 1;
                break;
        case 'm':
                seconds_per_unit = 60;
                break;
        case 'h':
                seconds_per_unit = 3600;
                break;
        case 'd':
                seconds_per_unit = 86400;
                break;
        default:
                return false;
        }
        /* Ages beyond about 10000 years are rejected as typos; this also keeps the product
         * below in range. */
        if (value > 3650000ULL * 86400 / (unsigned long long) seconds_per_unit)
                return false;
        *ret_ms = now_ms - (int64_t) value * seconds_per_unit * 1000;
        return true;
}

/* Columns the reason may take: the rest of the terminal line, or unlimited (0) when
 * standard output is not a terminal. */
static size_t reason_columns(size_t used)
{
        struct winsize ws;

        if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0)
                return 0;
        return ws.ws_col > used + REASON_MIN_COLUMNS ? ws.ws_col - used : REASON_MIN_COLUMNS;
}

static void print_table(json_t *entries)
{
        /* TIME 20, USER 12, ACTION 17, INSTANCE 16, DECISION 8, each with a space after it;
         * longer values push the line right rather than being cut. */
        size_t columns = reason_columns(20 + 1 + 12 + 1 + 17 + 1 + 16 + 1 + 8 + 1);
        json_t *entry;
        size_t i;

        printf("%-20s %-12s %-17s %-16s %-8s %s\n", "TIME", "USER", "ACTION", "INSTANCE", "DECISION", "REASON");
        json_array_foreach(entries, i, entry) {
                time_t seconds = (time_t) (json_integer_value(json_object_get(entry, "time_ms")) / 1000);
                char stamp[32] = "-", user[32], reason[4096];
                struct tm tm;

                if (gmtime_r(&seconds, &tm))
                        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
                const char *name = vp_json_string(entry, "caller_name", NULL);
                if (name)
                        snprintf(user, sizeof(user), "%s", name);
                else
                        snprintf(user, sizeof(user), "%" JSON_INTEGER_FORMAT,
                                 json_integer_value(json_object_get(entry, "caller_uid")));

                /* One line per entry: control characters, such as a console tail's newlines,
                 * become spaces. */
                snprintf(reason, sizeof(reason), "%s", vp_json_string(entry, "reason", "-"));
                for (char *p = reason; *p; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f)
                                *p = ' ';
                if (columns > 0 && strlen(reason) > columns) {
                        /* Cut at a character boundary, not inside a UTF-8 sequence. */
                        size_t cut = columns - 3;
                        while (cut > 0 && ((unsigned char) reason[cut] & 0xc0) == 0x80)
                                cut--;
                        strcpy(reason + cut, "...");
                }

                printf("%-20s %-12s %-17s %-16s %-8s %s\n", stamp, user, vp_json_string(entry, "action", "-"),
                       vp_json_string(entry, "instance", "-"), vp_json_string(entry, "decision", "-"), reason);
        }
}

int verb_audit(int argc, char **argv)
{
        static const struct option options[] = {
                { "since", required_argument, NULL, 's' },
                { "instance", required_argument, NULL, 'i' },
                { "limit", required_argument, NULL, 'l' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        json_t *parameters = json_object(), *reply = NULL;
        bool as_json = false;
        char *end;
        int c;

        if (!parameters) {
                vp_log_error("audit: out of memory");
                return 1;
        }
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 's': {
                        struct timespec now;
                        int64_t since_ms;
                        clock_gettime(CLOCK_REALTIME, &now);
                        if (!parse_since(optarg, (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000, &since_ms)) {
                                vp_log_error("audit: invalid --since '%s' (valid: 2026-12-04, 2026-12-04T21:30:00Z, "
                                             "90s, 30m, 2h, 7d)",
                                             optarg);
                                json_decref(parameters);
                                return 2;
                        }
                        json_object_set_new(parameters, "since_ms", json_integer(since_ms > 0 ? since_ms : 0));
                        break;
                }
                case 'i':
                        json_object_set_new(parameters, "instance", json_string(optarg));
                        break;
                case 'l': {
                        errno = 0;
                        unsigned long value = strtoul(optarg, &end, 10);
                        if (errno || *end || end == optarg || optarg[0] == '-' || value < 1 || value > 10000) {
                                vp_log_error("audit: invalid --limit '%s' (valid: 1 to 10000)", optarg);
                                json_decref(parameters);
                                return 2;
                        }
                        json_object_set_new(parameters, "limit", json_integer((json_int_t) value));
                        break;
                }
                case 'j':
                        as_json = true;
                        break;
                case 'h':
                        print_help(stdout);
                        json_decref(parameters);
                        return 0;
                default:
                        json_decref(parameters);
                        return vp_option_error("audit", argv, "h", options);
                }
        }
        if (optind < argc) {
                vp_log_error("audit: unexpected argument '%s'", argv[optind]);
                json_decref(parameters);
                return 2;
        }

        int r = vp_daemon_call("audit", "Audit", parameters, &reply);
        json_decref(parameters);
        if (r != 0)
                return r;
        json_t *entries = json_object_get(reply, "entries");
        if (as_json)
                vp_print_json(entries);
        else
                print_table(entries);
        if (json_is_true(json_object_get(reply, "truncated")))
                vp_log_error("audit: older entries left out because the reply is limited to 1 MiB; narrow the "
                             "query with --since, --instance or --limit");
        json_decref(reply);
        return 0;
}
