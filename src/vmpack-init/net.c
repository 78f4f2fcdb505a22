/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Loopback always, and eth0 with a static IPv4 address when the host gives a net= key. */
#include "init.h"

#include "guest-protocol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define ETH0_WAIT_MS 3000

static int set_up(int sock, const char *ifname)
{
        struct ifreq ifr = { 0 };

        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
        if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
                return -1;
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

static void set_ipv4(struct sockaddr *sa, const char *address)
{
        struct sockaddr_in *sin = (struct sockaddr_in *) sa;

        memset(sin, 0, sizeof(*sin));
        sin->sin_family = AF_INET;
        inet_pton(AF_INET, address, &sin->sin_addr);
}

static void write_resolv_conf(const char *dns)
{
        char text[64];

        /* Images often link /etc/resolv.conf to a resolver's runtime file, so replace the link. */
        unlink("/etc/resolv.conf");
        int fd = open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        int n = snprintf(text, sizeof(text), "nameserver %s\n", dns);
        if (fd < 0 || write(fd, text, (size_t) n) != n)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_NETWORK, "writing /etc/resolv.conf failed: %m");
        close(fd);
}

static void configure_eth0(int sock, const init_config *c)
{
        struct ifreq ifr = { 0 };
        struct rtentry route = { 0 };

        if (init_wait_for_path("/sys/class/net/eth0", ETH0_WAIT_MS) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_NETWORK,
                          "eth0 did not appear within %d ms although the configuration has net=", ETH0_WAIT_MS);

        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
        set_ipv4(&ifr.ifr_addr, c->net_address);
        if (ioctl(sock, SIOCSIFADDR, &ifr) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_NETWORK, "eth0: setting address %s failed: %m",
                          c->net_address);

        struct sockaddr_in *mask = (struct sockaddr_in *) &ifr.ifr_netmask;
        memset(mask, 0, sizeof(*mask));
        mask->sin_family = AF_INET;
        mask->sin_addr.s_addr = c->net_prefix ? htonl(~0u << (32 - c->net_prefix)) : 0;
        if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_NETWORK, "eth0: setting prefix /%u failed: %m",
                          c->net_prefix);
        if (set_up(sock, "eth0") < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_NETWORK, "eth0: bringing it up failed: %m");

        if (c->net_gateway[0]) {
                set_ipv4(&route.rt_dst, "0.0.0.0");
                set_ipv4(&route.rt_genmask, "0.0.0.0");
                set_ipv4(&route.rt_gateway, c->net_gateway);
                route.rt_flags = RTF_UP | RTF_GATEWAY;
                route.rt_dev = (char *) "eth0";
                if (ioctl(sock, SIOCADDRT, &route) < 0 && errno != EEXIST)
                        init_fail(VP_STATUS_VM_FAILURE, VP_REASON_NETWORK, "eth0: adding default route via %s failed: %m",
                                  c->net_gateway);
        }
        if (c->net_dns[0])
                write_resolv_conf(c->net_dns);
        init_debug_log("eth0 is %s/%u, gateway %s, DNS %s", c->net_address, c->net_prefix,
                       c->net_gateway[0] ? c->net_gateway : "none", c->net_dns[0] ? c->net_dns : "none");
}

/* Whether /etc/hosts has a line naming name after its address. */
static bool hosts_has_name(const char *name)
{
        char line[1024];
        bool found = false;
        FILE *f = fopen("/etc/hosts", "re");

        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "#")] = '\0';
                char *save = NULL, *token = strtok_r(line, " \t\n", &save);
                while (token && !found) {
                        token = strtok_r(NULL, " \t\n", &save);
                        found = token && strcmp(token, name) == 0;
                }
        }
        fclose(f);
        return found;
}

/* Set the hostname and make it resolve to a loopback address, as Debian's installer does
 * with 127.0.1.1, because programs that look up their own hostname otherwise wait for DNS. */
void init_set_hostname(const init_config *c)
{
        char line[128];

        if (sethostname(c->hostname, strlen(c->hostname)) < 0)
                init_log("setting hostname %s failed: %m", c->hostname);
        if (init_mkdir_p("/etc", 0755) < 0 || hosts_has_name(c->hostname))
                return;

        int fd = open("/etc/hosts", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        int n = snprintf(line, sizeof(line), "%s127.0.1.1\t%s\n", hosts_has_name("localhost") ? "" :
                         "127.0.0.1\tlocalhost\n", c->hostname);
        if (fd < 0 || write(fd, line, (size_t) n) != n)
                init_log("adding %s to /etc/hosts failed: %m", c->hostname);
        if (fd >= 0)
                close(fd);
}

void init_network(const init_config *c)
{
        int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (sock < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_NETWORK, "cannot create a socket: %m");
        /* The kernel gives lo 127.0.0.1/8 when it comes up. */
        if (set_up(sock, "lo") < 0)
                init_fail(VP_STATUS_VM_FAILURE, VP_REASON_NETWORK, "bringing lo up failed: %m");
        if (c->net)
                configure_eth0(sock, c);
        close(sock);
}
