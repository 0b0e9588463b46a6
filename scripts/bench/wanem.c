/* wanem: a WAN link between two network namespaces, for scripts/bench/tunnel-wan.sh.
 *
 *   wanem [-d DELAY_MS] [-r RATE_MBIT] [-q QUEUE] [-l LOSS_PCT] [-s SEED] [-i IFNAME] NETNS_A NETNS_B
 *
 * Opens the TUN device IFNAME (default wan0) in each namespace (a name under /run/netns or a
 * path), creating it or attaching to a persistent one (`ip tuntap add dev wan0 mode tun`), and
 * forwards every IP packet read on one to the other.  Each direction is a link of its own:
 * a packet is dropped at random (LOSS_PCT, from a xorshift64* seeded with SEED, so a run is
 * repeatable), else it joins a drop-tail queue of QUEUE bytes (or "Np": N packets of 1500
 * bytes; default one bandwidth-delay product at the RTT 2 x DELAY_MS, at least 64 packets),
 * leaves it at RATE_MBIT (a token bucket one packet deep, counting IP bytes; 0 for no limit)
 * and comes out DELAY_MS later.  So ping sees 2 x DELAY_MS.  SIGUSR1 turns the link into a black
 * hole (every packet both ways is lost) and SIGUSR2 restores it, for outage tests.  On SIGINT or
 * SIGTERM it prints its counters to stderr and exits 0; bad arguments exit 64, a failing system
 * call 69.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

struct packet {
	struct packet *next;
	int64_t due; /* ns, CLOCK_MONOTONIC */
	size_t len;
	unsigned char data[];
};

struct link { /* one direction: read from `in`, write to `out` */
	int in, out;
	struct packet *head, *tail;
	int64_t free_at;  /* when the bottleneck has sent everything queued so far */
	uint64_t rng;
	uint64_t sent, lost, dropped, failed;
};

static int64_t delay_ns, queue_bytes = -1;
static double rate_bps, loss;
static volatile sig_atomic_t stop, blackhole;

static void usage(const char *what, const char *why)
{
	fprintf(stderr, "wanem: %s: %s\n", what, why);
	exit(64);
}

static void fail(const char *what)
{
	fprintf(stderr, "wanem: %s: %s\n", what, strerror(errno));
	exit(69);
}

static double number(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		usage(opt, "not a number in range");
	return v;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t next_random(uint64_t *s) /* xorshift64* */
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static int open_tun(const char *netns, const char *ifname)
{
	char path[4096];
	snprintf(path, sizeof path, strchr(netns, '/') ? "%s" : "/run/netns/%s", netns);
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		fail(path);
	if (setns(ns, CLONE_NEWNET) < 0)
		fail(path);
	close(ns);
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		fail("/dev/net/tun");
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		fail(ifname);
	return fd;
}

/* A packet arrives at `now`: lose it, drop it at a full queue, or schedule its delivery. */
static void arrive(struct link *l, const unsigned char *buf, size_t len, int64_t now)
{
	if (blackhole || (loss > 0 && (next_random(&l->rng) >> 11) * 0x1p-53 * 100 < loss)) {
		l->lost++;
		return;
	}
	int64_t start = l->free_at > now ? l->free_at : now;
	int64_t backlog = rate_bps > 0 ? (int64_t)((start - now) * rate_bps / 8e9) : 0;
	if (backlog + (int64_t)len > queue_bytes) {
		l->dropped++;
		return;
	}
	struct packet *p = malloc(sizeof *p + len);
	if (!p)
		fail("malloc");
	l->free_at = start + (rate_bps > 0 ? (int64_t)(len * 8e9 / rate_bps) : 0);
	p->next = NULL;
	p->due = l->free_at + delay_ns;
	p->len = len;
	memcpy(p->data, buf, len);
	if (l->tail)
		l->tail->next = p;
	else
		l->head = p;
	l->tail = p;
}

/* Writes out every packet that is due; returns the time the next one is, or INT64_MAX. */
static int64_t deliver(struct link *l, int64_t now)
{
	struct packet *p;
	while ((p = l->head) && p->due <= now) {
		if (write(l->out, p->data, p->len) == (ssize_t)p->len)
			l->sent++;
		else
			l->failed++; /* the far side is down or its queue is full: the packet is lost */
		l->head = p->next;
		if (!l->head)
			l->tail = NULL;
		free(p);
	}
	return p ? p->due : INT64_MAX;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		blackhole = 1;
	else if (sig == SIGUSR2)
		blackhole = 0;
	else
		stop = 1;
}

int main(int argc, char **argv)
{
	const char *ifname = "wan0";
	uint64_t seed = 1;
	int opt;
	opterr = 0;
	while ((opt = getopt(argc, argv, "d:r:q:l:s:i:")) != -1) {
		switch (opt) {
		case 'd': delay_ns = (int64_t)(number("-d", optarg, 0, 10000) * 1e6); break;
		case 'r': rate_bps = number("-r", optarg, 0, 1e6) * 1e6; break;
		case 'l': loss = number("-l", optarg, 0, 100); break;
		case 's': seed = (uint64_t)number("-s", optarg, 0, 1e15); break;
		case 'i':
			if (!*optarg || strlen(optarg) >= IFNAMSIZ)
				usage("-i", "not an interface name");
			ifname = optarg;
			break;
		case 'q': {
			size_t n = strlen(optarg);
			int packets = n > 1 && optarg[n - 1] == 'p';
			if (packets)
				optarg[n - 1] = '\0';
			queue_bytes = (int64_t)number("-q", optarg, 1, 1e10) * (packets ? 1500 : 1);
			break;
		}
		default: {
			char flag[3] = { '-', (char)optopt, '\0' };
			usage(flag, opt == '?' && strchr("drqlsi", optopt) ? "needs a value" : "unknown option");
		}
		}
	}
	if (argc - optind != 2)
		usage("usage", "wanem [-d ms] [-r Mbit/s] [-q bytes|Np] [-l %] [-s seed] [-i ifname] NETNS_A NETNS_B");
	if (queue_bytes < 0) {
		queue_bytes = (int64_t)(rate_bps * 2 * delay_ns / 8e9);
		if (queue_bytes < 64 * 1500)
			queue_bytes = 64 * 1500;
	}

	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0)
		fail("/proc/self/ns/net");
	int a = open_tun(argv[optind], ifname), b = open_tun(argv[optind + 1], ifname);
	if (setns(home, CLONE_NEWNET) < 0)
		fail("setns");
	close(home);

	struct link links[2] = {
		{ .in = a, .out = b, .rng = seed * 2 + 1 },
		{ .in = b, .out = a, .rng = seed * 2 + 2 },
	};
	for (int i = 0; i < 2; i++) /* xorshift needs a nonzero state; mix the seed a little */
		for (int k = 0; k < 8; k++)
			next_random(&links[i].rng);

	/* Signals are blocked except inside ppoll, so a stop cannot slip in between. */
	sigset_t block, wait_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);

	static unsigned char buf[65536];
	struct pollfd fds[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	while (!stop) {
		int64_t now = now_ns(), next = INT64_MAX;
		for (int i = 0; i < 2; i++) {
			int64_t t = deliver(&links[i], now);
			if (t < next)
				next = t;
		}
		struct timespec ts, *timeout = NULL;
		if (next != INT64_MAX) {
			int64_t wait = next > now ? next - now : 0;
			ts = (struct timespec){ .tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000 };
			timeout = &ts;
		}
		if (ppoll(fds, 2, timeout, &wait_mask) < 0) {
			if (errno == EINTR)
				continue;
			fail("ppoll");
		}
		now = now_ns();
		for (int i = 0; i < 2; i++) {
			if (!(fds[i].revents & POLLIN))
				continue;
			for (int n = 0; n < 64; n++) { /* a batch, then deliver again */
				ssize_t len = read(links[i].in, buf, sizeof buf);
				if (len < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				if (len < 0)
					fail("read");
				arrive(&links[i], buf, (size_t)len, now);
			}
		}
	}
	for (int i = 0; i < 2; i++)
		fprintf(stderr, "wanem: %s: sent=%llu lost=%llu dropped=%llu failed=%llu\n",
			i ? "b->a" : "a->b", (unsigned long long)links[i].sent,
			(unsigned long long)links[i].lost, (unsigned long long)links[i].dropped,
			(unsigned long long)links[i].failed);
	return 0;
}
