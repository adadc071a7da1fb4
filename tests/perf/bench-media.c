/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-media.c: the real mediad under N simultaneous calls, and the floor beside it.
 *
 * Usage: bench-media MEDIAD [--seconds S] [--calls 8,32,128] [--port-base P]
 *
 * MEDIAD is the built daemon; it runs with a generated config (as many lines as
 * the largest N) in a temporary runtime directory. This program is everything
 * around it, in one sd-event loop:
 *   - sigd: on the bus (SERVICE_SIGD) it publishes MediaControl/<port> with an
 *     RtpSession per line, exactly the fields sigd fills (PCMU, telephone-event
 *     101, sendrecv, ptime 20), plus the SDES keys as Secret in SRTP mode, and
 *     waits for the MediaState that shows each session applied;
 *   - linehwd: the PCM peer (GwPcm, LINE role), one off-hook up frame per line
 *     every 20 ms, and the down frames back;
 *   - the far ends: one UDP socket per call on another loopback address, 50
 *     packets/s each (phases spread over the 20 ms), protected with libsrtp2 in
 *     SRTP mode; mediad's packets are received, unprotected (authenticated) and
 *     checked.
 * For each N and each mode the traffic runs 2 s of warm-up, S seconds measured
 * (default 10) and a short tail; mediad's user+sys CPU is read from
 * /proc/<pid>/stat (and, finer, from its CPU-time clock) at the window's edges.
 *
 * The floor is the same far ends against a minimal echo process (this program
 * with --echo): per call one socket, recvfrom and sendto back, and with SRTP
 * one libsrtp unprotect and protect per packet - the same packets, rate and
 * per-packet crypto as mediad, without the line side, RTCP or the bus.
 *
 * Latency: an up frame carries a 32-bit id (and its complement) in the signs of
 * its first 64 samples, which survive G.711; so does the payload of every
 * packet the far end sends. line->RTP is the kernel's receive stamp of the RTP
 * packet carrying frame k minus the frame's send time; RTP->line is the arrival
 * of the down frame carrying packet k minus the packet's send time. Whatever
 * the playout buffer does, this is what a subscriber and the far end get.
 *
 * Figures only, no pass/fail. Every loop is bounded in count and time. Traffic
 * only on 127.0.0.140-142. Exit 77 if MEDIAD is not there. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if HAVE_OPENSSL
#include <openssl/core_names.h>
#include <openssl/evp.h>
#endif

#include "gw-bus.h"
#include "gw-pcm.h"

#define IP_MEDIAD       "127.0.0.140"
#define IP_PEER         "127.0.0.141"
#define IP_ECHO         "127.0.0.142"
#define MAX_CALLS       256
#define MAX_SECONDS     60
#define WARMUP_MS       2000
#define TAIL_MS         300
#define FRAME_MS        20
#define TE_PT           101             /* sigd always offers telephone-event 101 */
#define KEY_LEN         30              /* AES-128 key and 112-bit salt */
#define PKT_MAX         1500
#define RECV_BURST      64
#define SUITE           "AES_CM_128_HMAC_SHA1_80"

enum {
        F_SENT   = 1 << 0,
        F_WINDOW = 1 << 1,              /* sent in the measured window */
        F_SEEN   = 1 << 2,              /* came back (RTP from mediad, a down frame, the echo) */
};

typedef enum Mode {
        MODE_PLAIN,                     /* mediad, G.711 */
        MODE_SRTP,                      /* mediad, G.711 + SRTP */
        MODE_NO_TE,                     /* mediad, G.711 without telephone-event (no DTMF look-ahead) */
        MODE_PCM,                       /* mediad, lines off hook, no RTP */
        MODE_ECHO,                      /* floor: UDP echo */
        MODE_ECHO_SRTP,                 /* floor: UDP echo with libsrtp unprotect + protect */
        _MODE_MAX,
} Mode;

static const char *const mode_name[_MODE_MAX] = {
        [MODE_PLAIN] = "mediad G.711",
        [MODE_SRTP] = "mediad G.711+SRTP",
        [MODE_NO_TE] = "mediad G.711, no TE",
        [MODE_PCM] = "mediad lines, no RTP",
        [MODE_ECHO] = "floor: echo",
        [MODE_ECHO_SRTP] = "floor: echo+SRTP",
};

static bool mode_srtp(Mode m) { return m == MODE_SRTP || m == MODE_ECHO_SRTP; }
static bool mode_echo(Mode m) { return m == MODE_ECHO || m == MODE_ECHO_SRTP; }
static bool mode_rtp(Mode m) { return m != MODE_PCM; }
static bool mode_lines(Mode m) { return !mode_echo(m); }

typedef struct Lat {
        uint32_t *us;
        size_t n, cap;
} Lat;

typedef struct CpuSample {
        uint64_t ticks;                 /* utime + stime, /proc/<pid>/stat */
        uint64_t ns;                    /* the process's CPU-time clock */
        uint64_t self_ns;               /* ours */
        uint64_t mono_us;
} CpuSample;

typedef struct MediadCounters {
        uint64_t rx, tx, dropped, auth_failed, replayed, playout_lost, playout_late;
        uint64_t concealed, grown, shrunk;      /* the jitter buffer's adjustments */
        uint32_t max_delay_ms;                  /* the largest of the sessions' */
        bool valid;
} MediadCounters;

typedef struct Result {
        Mode mode;
        unsigned n;
        double wall_s, cpu_stat_s, cpu_clock_s, self_s;
        uint64_t late_ticks;
        /* towards the far end: up frames (or, for the echo, packets) and what came back */
        uint64_t out_expected, out_received, out_auth_failed, out_bad, out_events;
        /* towards the line: packets sent and the down frames that carried them */
        uint64_t in_sent, in_played, down_frames;
        double lat_out[4], lat_in[4];   /* ms: p50 p90 p99 max; NaN if none */
        MediadCounters mc;
        long rss_kb, hwm_kb;
        uint64_t echo_packets, echo_crypto_ns;  /* the echo's own count, and its time in libsrtp */
} Result;

typedef struct Call {
        struct Bench *b;
        unsigned idx;
        uint16_t line;                  /* mediad's line port */
        uint16_t rtp_port;              /* the same on every side: mediad, peer, echo */
        unsigned phase;                 /* ms into each 20 ms period at which we send */
        char call_id[32];
        int fd, rtcp_fd;
        sd_event_source *io, *rtcp_io;
        srtp_t tx, rx;
        uint8_t tx_key[KEY_LEN], rx_key[KEY_LEN];
        uint32_t ssrc, ts;
        uint16_t seq;
        uint32_t n_rtp;                 /* packets sent: the next id */
        uint64_t *rtp_sent_us;          /* per packet id */
        uint8_t *rtp_flags;
        uint64_t *up_sent_us;           /* per up frame (tick) */
        uint8_t *up_flags;
} Call;

typedef struct Bench {
        sd_event *event;
        GwConf *conf;
        GwBus *bus;
        GwBus *others[3];               /* gwsupd, regd, linehwd: present and silent */
        GwPcm *pcm;
        pid_t mediad;
        char self_exe[PATH_MAX];        /* the echo is this program again */
        char dir[64];
        unsigned n_lines;
        uint16_t port_base;
        unsigned seconds;

        /* what we asked of each line, and whether MediaState confirmed it */
        uint64_t *gen;
        char (*want_call)[32];
        bool *acked;
        char error[256];
        uint64_t pcm_rx;

        /* the run */
        Mode mode;
        Call *calls;
        unsigned n_calls;
        unsigned run_no;
        uint32_t n_ids;                 /* ticks (and packet ids) a run can have */
        pid_t target;                   /* mediad or the echo */
        uint64_t t0;
        unsigned slot, slots_total, slot_window0, slot_window1;
        bool done;
        CpuSample cpu0, cpu1;
        Lat lat_out, lat_in;
        Result *res;
} Bench;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
        interrupted = 1;
}

/* ---------------------------------------------------------------- the id in the audio */

/* Bit k of the 64 carried: the id's 32 bits, then their complement (so
 * silence or a cut frame decodes as nothing). */
static bool id_bit(uint32_t id, unsigned k) {
        return k < 32 ? (id >> k) & 1 : !((id >> (k - 32)) & 1);
}

static int64_t id_from_bits(const bool *bits) {
        uint32_t id = 0;

        for (unsigned k = 0; k < 32; k++) {
                if (bits[k] == bits[32 + k])
                        return -1;
                id |= (uint32_t) bits[k] << k;
        }
        return id;
}

/* G.711 u-law: bit 7 set is a positive sample; 0xA0/0x20 are about +-2000. */
static void id_to_ulaw(uint32_t id, uint8_t *payload) {
        for (unsigned k = 0; k < 64; k++)
                payload[k] = id_bit(id, k) ? 0xA0 : 0x20;
        memset(payload + 64, 0xFF, GW_PCM_SAMPLES - 64);
}

static int64_t id_from_ulaw(const uint8_t *payload) {
        bool bits[64];

        for (unsigned k = 0; k < 64; k++)
                bits[k] = payload[k] & 0x80;
        return id_from_bits(bits);
}

static void id_to_pcm(uint32_t id, int16_t *samples) {
        for (unsigned k = 0; k < 64; k++)
                samples[k] = id_bit(id, k) ? 3000 : -3000;
        memset(samples + 64, 0, (GW_PCM_SAMPLES - 64) * sizeof(*samples));
}

static int64_t id_from_pcm(const int16_t *samples) {
        bool bits[64];

        for (unsigned k = 0; k < 64; k++) {
                if (samples[k] == 0)
                        return -1;
                bits[k] = samples[k] > 0;
        }
        return id_from_bits(bits);
}

/* ---------------------------------------------------------------- /proc */

static int proc_cpu_ticks(pid_t pid, uint64_t *ret) {
        char path[64], buf[1024], *p;
        unsigned long long ut, st;
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
                return -EIO;
        buf[n] = 0;
        p = strrchr(buf, ')');          /* the command name may hold spaces */
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return -EBADMSG;
        *ret = ut + st;
        return 0;
}

static uint64_t clock_ns(clockid_t c) {
        struct timespec ts;

        if (clock_gettime(c, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void cpu_sample(pid_t pid, CpuSample *ret) {
        clockid_t c;

        *ret = (CpuSample) { .mono_us = now_usec(CLOCK_MONOTONIC) };
        (void) proc_cpu_ticks(pid, &ret->ticks);
        if (clock_getcpuclockid(pid, &c) == 0)
                ret->ns = clock_ns(c);
        ret->self_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static void proc_rss(pid_t pid, long *ret_rss, long *ret_hwm) {
        char path[64], line[256];
        FILE *f;

        *ret_rss = *ret_hwm = -1;
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return;
        while (fgets(line, sizeof line, f)) {
                (void) sscanf(line, "VmRSS: %ld", ret_rss);
                (void) sscanf(line, "VmHWM: %ld", ret_hwm);
        }
        fclose(f);
}

/* ---------------------------------------------------------------- latency */

static int lat_init(Lat *l, size_t cap) {
        l->us = calloc(cap ?: 1, sizeof(*l->us));
        l->n = 0;
        l->cap = cap;
        return l->us ? 0 : -ENOMEM;
}

static void lat_add(Lat *l, uint64_t from, uint64_t to) {
        if (l->n < l->cap)
                l->us[l->n++] = to > from ? (uint32_t) MIN(to - from, UINT32_MAX) : 0;
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
        return x < y ? -1 : x > y;
}

static void lat_percentiles(Lat *l, double ret[4]) {
        static const double p[3] = { 0.50, 0.90, 0.99 };

        if (l->n == 0) {
                for (int i = 0; i < 4; i++)
                        ret[i] = NAN;
                return;
        }
        qsort(l->us, l->n, sizeof(*l->us), cmp_u32);
        for (int i = 0; i < 3; i++)
                ret[i] = l->us[MIN((size_t) (p[i] * (double) l->n), l->n - 1)] / 1000.0;
        ret[3] = l->us[l->n - 1] / 1000.0;
}

static void lat_done(Lat *l) {
        free(l->us);
        *l = (Lat) {};
}

/* ---------------------------------------------------------------- the floor: echo process */

/* What the echo says when it stops: packets echoed and the time inside libsrtp. */
typedef struct EchoReport {
        uint64_t packets;
        uint64_t crypto_ns;
} EchoReport;

typedef struct EchoSetup {
        uint32_t srtp;
        uint32_t n;
        uint16_t port_base;
        uint8_t keys[MAX_CALLS][2][KEY_LEN];    /* [0]: what the peer sends with, [1]: what we send with */
} EchoSetup;

static int read_full(int fd, void *buf, size_t n) {
        for (size_t done = 0; done < n;) {
                ssize_t k = read(fd, (uint8_t *) buf + done, n - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EPIPE;
                done += (size_t) k;
        }
        return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
        for (size_t done = 0; done < n;) {
                ssize_t k = write(fd, (const uint8_t *) buf + done, n - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EPIPE;
                done += (size_t) k;
        }
        return 0;
}

static int udp_bind(const char *ip, uint16_t port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
        int fd;

        if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
                return -EINVAL;
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &a, sizeof a) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static void srtp_policy(srtp_policy_t *pol, uint8_t *key, bool inbound) {
        memset(pol, 0, sizeof(*pol));
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol->rtcp);
        pol->ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
        pol->key = key;
        pol->window_size = 128;
}

/* The child: stdin carries the EchoSetup and, closed, says stop; one byte on stdout
 * says ready, an EchoReport at the end what it did. */
static int echo_main(void) {
        _cleanup_free_ EchoSetup *s = NULL;
        EchoReport report = {};
        int fds[MAX_CALLS], ep, r = 0;
        srtp_t tx[MAX_CALLS] = {}, rx[MAX_CALLS] = {};
        struct epoll_event ev = { .events = EPOLLIN };

        s = calloc(1, sizeof(*s));
        if (!s || read_full(STDIN_FILENO, s, sizeof(*s)) < 0 || s->n > MAX_CALLS)
                return 1;
        if (s->srtp && srtp_init() != srtp_err_status_ok)
                return 1;
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
                return 1;
        ev.data.u32 = UINT32_MAX;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0)
                return 1;
        for (uint32_t i = 0; i < s->n; i++) {
                srtp_policy_t pol;

                fds[i] = udp_bind(IP_ECHO, (uint16_t) (s->port_base + 2 * i));
                if (fds[i] < 0) {
                        fprintf(stderr, "echo: bind %s:%u: %s\n", IP_ECHO, s->port_base + 2 * i, strerror(-fds[i]));
                        return 1;
                }
                ev.data.u32 = i;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
                        return 1;
                if (s->srtp) {
                        srtp_policy(&pol, s->keys[i][0], true);
                        if (srtp_create(&rx[i], &pol) != srtp_err_status_ok)
                                return 1;
                        srtp_policy(&pol, s->keys[i][1], false);
                        if (srtp_create(&tx[i], &pol) != srtp_err_status_ok)
                                return 1;
                }
        }
        explicit_bzero(s->keys, sizeof(s->keys));
        if (write_full(STDOUT_FILENO, "R", 1) < 0)
                return 1;

        for (bool stop = false; !stop;) {
                struct epoll_event evs[64];
                int n = epoll_wait(ep, evs, ELEMENTSOF(evs), 10000);

                if (n < 0 && errno != EINTR)
                        return 1;
                if (n == 0)             /* the parent went quiet for 10 s: it is gone */
                        break;
                for (int k = 0; k < n; k++) {
                        uint32_t i = evs[k].data.u32;

                        if (i == UINT32_MAX) {
                                stop = true;
                                continue;
                        }
                        /* As mediad: at most a burst per wake-up. */
                        for (unsigned j = 0; j < 32; j++) {
                                uint8_t buf[PKT_MAX + SRTP_MAX_TRAILER_LEN];
                                struct sockaddr_in from;
                                socklen_t fl = sizeof from;
                                ssize_t got = recvfrom(fds[i], buf, PKT_MAX, MSG_DONTWAIT, (struct sockaddr *) &from, &fl);
                                int len;

                                if (got < 0)
                                        break;
                                len = (int) got;
                                if (s->srtp) {
                                        /* CLOCK_MONOTONIC is read in the vDSO: cheap enough to time each packet. */
                                        uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
                                        bool ok = srtp_unprotect(rx[i], buf, &len) == srtp_err_status_ok &&
                                                  srtp_protect(tx[i], buf, &len) == srtp_err_status_ok;

                                        report.crypto_ns += clock_ns(CLOCK_MONOTONIC) - t0;
                                        if (!ok)
                                                continue;
                                }
                                if (sendto(fds[i], buf, (size_t) len, MSG_DONTWAIT, (struct sockaddr *) &from, fl) > 0)
                                        report.packets++;
                        }
                }
        }
        for (uint32_t i = 0; i < s->n; i++) {
                close(fds[i]);
                if (tx[i])
                        srtp_dealloc(tx[i]);
                if (rx[i])
                        srtp_dealloc(rx[i]);
        }
        close(ep);
        if (s->srtp)
                (void) srtp_shutdown();
        (void) write_full(STDOUT_FILENO, &report, sizeof report);
        return r;
}

/* Wait for our child 'pid' at most 'ms', then SIGKILL it; its wait status. */
static int child_reap(pid_t pid, unsigned ms) {
        int status = 0;

        for (unsigned i = 0; i < ms / 10; i++) {
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return status;
                usleep(10000);
        }
        (void) kill(pid, SIGKILL);
        (void) waitpid(pid, &status, 0);
        return status;
}

/* Start the echo for the calls of b; *ret_in is its stdin: closing it stops it; its
 * report comes on *ret_out. */
static int echo_start(Bench *b, pid_t *ret_pid, int *ret_in, int *ret_out) {
        _cleanup_free_ EchoSetup *s = NULL;
        int in[2], out[2];
        char c;
        pid_t pid;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->srtp = mode_srtp(b->mode);
        s->n = b->n_calls;
        s->port_base = b->port_base;
        for (unsigned i = 0; i < b->n_calls; i++) {
                memcpy(s->keys[i][0], b->calls[i].tx_key, KEY_LEN);
                memcpy(s->keys[i][1], b->calls[i].rx_key, KEY_LEN);
        }
        if (pipe2(in, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(out, O_CLOEXEC) < 0) {
                r = -errno;
                close(in[0]);
                close(in[1]);
                return r;
        }
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(in[0]), close(in[1]), close(out[0]), close(out[1]);
                return r;
        }
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
                        _exit(1);
                execl(b->self_exe, "bench-media", "--echo", (char *) NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        r = write_full(in[1], s, sizeof(*s));
        explicit_bzero(s, sizeof(*s));
        if (r >= 0) {
                struct pollfd p = { .fd = out[0], .events = POLLIN };

                r = poll(&p, 1, 5000) == 1 && read(out[0], &c, 1) == 1 && c == 'R' ? 0 : -ETIMEDOUT;
        }
        if (r < 0) {
                close(in[1]);
                close(out[0]);
                (void) child_reap(pid, 0);
                return r;
        }
        *ret_pid = pid;
        *ret_in = in[1];
        *ret_out = out[0];
        return 0;
}

/* ---------------------------------------------------------------- bus: being sigd */

static int on_media_state(GwBus *bus, const Gw__Envelope *env, void *userdata) {
        Bench *b = userdata;
        const Gw__MediaState *s = env->media_state;
        bool want_rtp;

        if (!s || s->port < 1 || s->port > b->n_lines || s->session_ended)
                return 0;
        if (!s->has_generation || s->generation != b->gen[s->port])
                return 0;
        if (!isempty(s->error)) {
                snprintf(b->error, sizeof b->error, "line %u: %s", s->port, s->error);
                return 0;
        }
        want_rtp = b->want_call[s->port][0];
        b->acked[s->port] = want_rtp ? streq_ptr(s->call_id, b->want_call[s->port]) : isempty(s->call_id);
        return 0;
}

static const GwBusHandler sigd_handlers[] = {
        [GW__ENVELOPE__BODY_MEDIA_STATE] = { "MediaState", on_media_state, GW_SERVICE_BIT(GW__SERVICE__SERVICE_MEDIAD) },
};

/* MediaControl/<line> as sigd builds it for a connected call (sigd-call.c), or without RTP. */
static int publish_control(Bench *b, unsigned line, const Call *c) {
        Gw__Envelope env = GW__ENVELOPE__INIT;
        Gw__MediaControl mc = GW__MEDIA_CONTROL__INIT;
        Gw__RtpSession rtp = GW__RTP_SESSION__INIT;
        Gw__Secret tx = GW__SECRET__INIT, rx = GW__SECRET__INIT;
        char key[16];

        mc.port = line;
        mc.has_generation = true;
        mc.generation = b->gen[line];
        mc.has_tone = true;
        mc.tone = GW__TONE__TONE_NONE;
        mc.has_detect_digits = true;
        mc.detect_digits = true;
        if (c) {
                rtp.call_id = UNCONST(c->call_id);
                rtp.local_port = c->rtp_port;           /* on sip.listen's address, IP_MEDIAD */
                rtp.remote_ip = UNCONST(IP_PEER);
                rtp.has_remote_port = true;
                rtp.remote_port = c->rtp_port;
                rtp.has_payload_type = true;
                rtp.payload_type = 0;
                rtp.has_telephone_event_pt = true;
                rtp.telephone_event_pt = b->mode == MODE_NO_TE ? 0 : TE_PT;
                rtp.has_direction = true;
                rtp.direction = GW__MEDIA_DIRECTION__DIRECTION_SENDRECV;
                rtp.has_ptime_ms = true;
                rtp.ptime_ms = FRAME_MS;
                if (mode_srtp(b->mode)) {
                        /* mediad sends with what we receive with, and the other way round. */
                        rtp.srtp_suite = UNCONST(SUITE);
                        tx.has_value = rx.has_value = true;
                        tx.value = (ProtobufCBinaryData) { KEY_LEN, UNCONST(c->rx_key) };
                        rx.value = (ProtobufCBinaryData) { KEY_LEN, UNCONST(c->tx_key) };
                        rtp.srtp_tx_key = &tx;
                        rtp.srtp_rx_key = &rx;
                }
                mc.rtp = &rtp;
        }
        env.body_case = GW__ENVELOPE__BODY_MEDIA_CONTROL;
        env.media_control = &mc;
        snprintf(key, sizeof key, "%u", line);
        return gw_bus_publish_auto(b->bus, key, &env);
}

static bool mediad_alive(Bench *b) {
        if (b->mediad > 0 && waitpid(b->mediad, NULL, WNOHANG) == b->mediad) {
                b->mediad = 0;
                fprintf(stderr, "bench-media: mediad exited; its log: %s/mediad.log\n", b->dir);
        }
        return b->mediad > 0;
}

/* Apply 'calls' (NULL: no RTP) to lines 1..n and wait for mediad to confirm; re-published
 * every 500 ms (the bus may still be connecting), 10 s at most. */
static int apply_controls(Bench *b, unsigned n, const Call *calls) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC, next = 0;

        for (unsigned l = 1; l <= n; l++) {
                b->gen[l]++;
                b->acked[l] = false;
                snprintf(b->want_call[l], sizeof b->want_call[l], "%s", calls ? calls[l - 1].call_id : "");
        }
        b->error[0] = 0;
        for (;;) {
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                unsigned missing = 0;

                for (unsigned l = 1; l <= n; l++)
                        missing += !b->acked[l];
                if (missing == 0)
                        return 0;
                if (b->error[0]) {
                        fprintf(stderr, "bench-media: mediad refused: %s\n", b->error);
                        return -EINVAL;
                }
                if (now >= end || interrupted || !mediad_alive(b)) {
                        fprintf(stderr, "bench-media: %u of %u lines not confirmed by mediad\n", missing, n);
                        return -ETIMEDOUT;
                }
                if (now >= next) {
                        for (unsigned l = 1; l <= n; l++)
                                if (!b->acked[l])
                                        (void) publish_control(b, l, calls ? &calls[l - 1] : NULL);
                        next = now + 500 * USEC_PER_MSEC;
                }
                (void) sd_event_run(b->event, 20 * USEC_PER_MSEC);
        }
}

/* mediad's own counters for lines 1..n (session totals), from its control socket. */
static void mediad_counters(Bench *b, unsigned n, MediadCounters *ret) {
        Gw__Envelope req = GW__ENVELOPE__INIT, *reply = NULL;
        Gw__LineStatusRequest lsr = GW__LINE_STATUS_REQUEST__INIT;

        *ret = (MediadCounters) {};
        lsr.has_port = true;
        lsr.port = 0;
        req.body_case = GW__ENVELOPE__BODY_LINE_STATUS_REQUEST;
        req.line_status_request = &lsr;
        if (gw_bus_ctl_call(b->conf, GW__SERVICE__SERVICE_MEDIAD, &req, 3 * USEC_PER_SEC, &reply) < 0)
                return;
        if (reply->body_case == GW__ENVELOPE__BODY_LINE_STATUS_REPLY && reply->line_status_reply) {
                for (size_t i = 0; i < reply->line_status_reply->n_lines; i++) {
                        const Gw__MediaState *m = reply->line_status_reply->lines[i]->media;

                        if (!m || m->port < 1 || m->port > n)
                                continue;
                        ret->rx += m->rtp_rx;
                        ret->tx += m->rtp_tx;
                        ret->dropped += m->rtp_dropped;
                        ret->auth_failed += m->srtp_auth_failed;
                        ret->replayed += m->srtp_replayed;
                        ret->playout_lost += m->playout_lost;
                        ret->playout_late += m->playout_late;
                        ret->concealed += m->playout_concealed;
                        ret->grown += m->playout_grown;
                        ret->shrunk += m->playout_shrunk;
                        ret->max_delay_ms = MAX(ret->max_delay_ms, m->playout_max_delay_ms);
                }
                ret->valid = true;
        }
        gw__envelope__free_unpacked(reply, NULL);
}

/* ---------------------------------------------------------------- the far ends */

static uint64_t arrival_mono(struct msghdr *mh) {
        uint64_t mono = now_usec(CLOCK_MONOTONIC), rt, pkt;
        const struct timespec *ts = NULL;

        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS)
                        ts = (const struct timespec *) CMSG_DATA(cm);
        if (!ts)
                return mono;
        /* The kernel stamps CLOCK_REALTIME: move it onto the monotonic clock by the distance to now. */
        rt = now_usec(CLOCK_REALTIME);
        pkt = (uint64_t) ts->tv_sec * USEC_PER_SEC + (uint64_t) ts->tv_nsec / 1000;
        return pkt <= rt && rt - pkt < mono ? mono - (rt - pkt) : mono;
}

/* A packet from mediad (its audio of up frame 'id') or from the echo (our packet 'id'). */
static void far_end_packet(Call *c, uint8_t *buf, int len, uint64_t t) {
        Bench *b = c->b;
        Result *res = b->res;
        uint8_t *flags;
        uint64_t sent;
        int64_t id;
        size_t off;

        if (mode_srtp(b->mode)) {
                srtp_err_status_t st = srtp_unprotect(c->rx, buf, &len);

                if (st == srtp_err_status_auth_fail) {
                        res->out_auth_failed++;
                        return;
                }
                if (st != srtp_err_status_ok) {
                        res->out_bad++;
                        return;
                }
        }
        if (len < 12 || (buf[0] >> 6) != 2) {
                res->out_bad++;
                return;
        }
        off = 12 + 4 * (size_t) (buf[0] & 0x0f);
        if ((buf[1] & 0x7f) == TE_PT) {
                res->out_events++;      /* a digit mediad's detector heard in our ids: should be 0 */
                return;
        }
        if ((buf[1] & 0x7f) != 0 || (size_t) len != off + GW_PCM_SAMPLES) {
                res->out_bad++;
                return;
        }
        id = id_from_ulaw(buf + off);
        if (id < 0 || id >= b->n_ids)
                return;                 /* audio without an id: silence before the first frame, a cut */
        flags = mode_echo(b->mode) ? &c->rtp_flags[id] : &c->up_flags[id];
        sent = mode_echo(b->mode) ? c->rtp_sent_us[id] : c->up_sent_us[id];
        if (!(*flags & F_SENT) || (*flags & F_SEEN)) {
                res->out_bad++;
                return;
        }
        *flags |= F_SEEN;
        if (*flags & F_WINDOW) {
                res->out_received++;
                lat_add(&b->lat_out, sent, t);
        }
}

static int on_peer_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Call *c = userdata;

        for (unsigned i = 0; i < RECV_BURST; i++) {
                uint8_t buf[PKT_MAX];
                union {
                        struct cmsghdr align;
                        uint8_t data[CMSG_SPACE(sizeof(struct timespec))];
                } ctl;
                struct iovec iov = { buf, sizeof buf };
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof ctl };
                ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        continue;
                }
                far_end_packet(c, buf, (int) n, arrival_mono(&mh));
        }
        return 0;
}

static int on_rtcp_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        uint8_t buf[PKT_MAX];

        for (unsigned i = 0; i < RECV_BURST; i++)
                if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EINTR))
                        break;
        return 0;
}

static void send_rtp(Bench *b, Call *c, bool window) {
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(c->rtp_port) };
        uint8_t buf[12 + GW_PCM_SAMPLES + SRTP_MAX_TRAILER_LEN];
        uint32_t id = c->n_rtp;
        int len = 12 + GW_PCM_SAMPLES;

        if (id >= b->n_ids)
                return;
        (void) inet_pton(AF_INET, mode_echo(b->mode) ? IP_ECHO : IP_MEDIAD, &to.sin_addr);
        buf[0] = 0x80;
        buf[1] = (uint8_t) (id == 0 ? 0x80 : 0);        /* PCMU, marker on the first */
        buf[2] = (uint8_t) (c->seq >> 8);
        buf[3] = (uint8_t) c->seq;
        for (int k = 0; k < 4; k++) {
                buf[4 + k] = (uint8_t) (c->ts >> (24 - 8 * k));
                buf[8 + k] = (uint8_t) (c->ssrc >> (24 - 8 * k));
        }
        id_to_ulaw(id, buf + 12);
        c->seq++;
        c->ts += GW_PCM_SAMPLES;
        c->n_rtp++;
        if (mode_srtp(b->mode) && srtp_protect(c->tx, buf, &len) != srtp_err_status_ok)
                return;
        c->rtp_sent_us[id] = now_usec(CLOCK_MONOTONIC);
        if (sendto(c->fd, buf, (size_t) len, MSG_DONTWAIT, (struct sockaddr *) &to, sizeof to) < 0)
                return;
        c->rtp_flags[id] = F_SENT | (window ? F_WINDOW : 0);
        if (window)
                b->res->in_sent++;
}

/* ---------------------------------------------------------------- the line side */

static void on_down(GwPcm *p, const GwPcmFrame *f, void *userdata) {
        Bench *b = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        Call *c;
        int64_t id;

        b->pcm_rx++;
        if (!b->calls || f->port < 1 || f->port > b->n_calls || !b->res)
                return;
        c = &b->calls[f->port - 1];
        if (f->seq < b->n_ids && (c->up_flags[f->seq] & F_WINDOW))
                b->res->down_frames++;
        id = id_from_pcm(f->samples);
        if (id < 0 || id >= b->n_ids || !(c->rtp_flags[id] & F_SENT) || (c->rtp_flags[id] & F_SEEN))
                return;
        c->rtp_flags[id] |= F_SEEN;
        if (c->rtp_flags[id] & F_WINDOW) {
                b->res->in_played++;
                lat_add(&b->lat_in, c->rtp_sent_us[id], now);
        }
}

static void send_up_frames(Bench *b, uint32_t tick, bool window) {
        GwPcmFrame f = { .flags = GW_PCM_FLAG_OFFHOOK, .seq = tick };

        if (tick >= b->n_ids)
                return;
        id_to_pcm(tick, f.samples);
        for (unsigned i = 0; i < b->n_calls; i++) {
                Call *c = &b->calls[i];

                f.port = c->line;
                f.mono_us = now_usec(CLOCK_MONOTONIC);
                if (gw_pcm_send(b->pcm, &f) < 0)
                        continue;
                c->up_sent_us[tick] = f.mono_us;
                c->up_flags[tick] = F_SENT | (window ? F_WINDOW : 0);
                if (window)
                        b->res->out_expected++;
        }
}

/* ---------------------------------------------------------------- the clock */

static void run_slot(Bench *b, unsigned slot, uint64_t now) {
        bool window = slot >= b->slot_window0 && slot < b->slot_window1;

        if (slot == b->slot_window0)
                cpu_sample(b->target, &b->cpu0);
        if (slot == b->slot_window1) {
                cpu_sample(b->target, &b->cpu1);
                if (!mode_echo(b->mode))
                        proc_rss(b->target, &b->res->rss_kb, &b->res->hwm_kb);
        }
        if (slot % FRAME_MS == 0) {
                /* How late our own clock ran: a busy peer shows here, not as mediad's fault. */
                if (window && now > b->t0 + (uint64_t) slot * USEC_PER_MSEC + 2 * USEC_PER_MSEC)
                        b->res->late_ticks++;
                if (mode_lines(b->mode))
                        send_up_frames(b, slot / FRAME_MS, window);
        }
        if (mode_rtp(b->mode))
                for (unsigned i = 0; i < b->n_calls; i++)
                        if (b->calls[i].phase == slot % FRAME_MS)
                                send_rtp(b, &b->calls[i], window);
}

static int on_slot(sd_event_source *s, uint64_t usec, void *userdata) {
        Bench *b = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        /* Catch up slot by slot if we were late; bounded by slots_total. */
        while (b->slot < b->slots_total && b->t0 + (uint64_t) b->slot * USEC_PER_MSEC <= now) {
                run_slot(b, b->slot, now);
                b->slot++;
                now = now_usec(CLOCK_MONOTONIC);
        }
        if (b->slot >= b->slots_total) {
                b->done = true;
                return sd_event_source_set_enabled(s, SD_EVENT_OFF);
        }
        (void) sd_event_source_set_time(s, b->t0 + (uint64_t) b->slot * USEC_PER_MSEC);
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* ---------------------------------------------------------------- one run */

static void calls_free(Bench *b) {
        for (unsigned i = 0; b->calls && i < b->n_calls; i++) {
                Call *c = &b->calls[i];

                sd_event_source_disable_unref(c->io);
                sd_event_source_disable_unref(c->rtcp_io);
                if (c->fd >= 0)
                        close(c->fd);
                if (c->rtcp_fd >= 0)
                        close(c->rtcp_fd);
                if (c->tx)
                        srtp_dealloc(c->tx);
                if (c->rx)
                        srtp_dealloc(c->rx);
                free(c->rtp_sent_us);
                free(c->rtp_flags);
                free(c->up_sent_us);
                free(c->up_flags);
                explicit_bzero(c->tx_key, sizeof c->tx_key);
                explicit_bzero(c->rx_key, sizeof c->rx_key);
        }
        free(b->calls);
        b->calls = NULL;
        b->n_calls = 0;
}

static int calls_new(Bench *b, unsigned n) {
        b->calls = calloc(n, sizeof(*b->calls));
        if (!b->calls)
                return -ENOMEM;
        b->n_calls = n;
        for (unsigned i = 0; i < n; i++) {
                Call *c = &b->calls[i];
                uint32_t rnd[3];
                srtp_policy_t pol;
                int r;

                *c = (Call) { .b = b, .idx = i, .line = (uint16_t) (i + 1), .fd = -EBADF, .rtcp_fd = -EBADF,
                              .rtp_port = (uint16_t) (b->port_base + 2 * i), .phase = i * FRAME_MS / n };
                snprintf(c->call_id, sizeof c->call_id, "bench-%u-%u", b->run_no, i + 1);
                if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd ||
                    getrandom(c->tx_key, KEY_LEN, 0) != KEY_LEN || getrandom(c->rx_key, KEY_LEN, 0) != KEY_LEN)
                        return -EIO;
                c->ssrc = rnd[0];
                c->seq = (uint16_t) rnd[1];
                c->ts = rnd[2];
                c->rtp_sent_us = calloc(b->n_ids, sizeof(uint64_t));
                c->up_sent_us = calloc(b->n_ids, sizeof(uint64_t));
                c->rtp_flags = calloc(b->n_ids, 1);
                c->up_flags = calloc(b->n_ids, 1);
                if (!c->rtp_sent_us || !c->up_sent_us || !c->rtp_flags || !c->up_flags)
                        return -ENOMEM;
                if (!mode_rtp(b->mode))
                        continue;
                c->fd = udp_bind(IP_PEER, c->rtp_port);
                if (c->fd < 0)
                        return fprintf(stderr, "bench-media: bind %s:%u: %s\n", IP_PEER, c->rtp_port,
                                       strerror(-c->fd)), c->fd;
                c->rtcp_fd = udp_bind(IP_PEER, (uint16_t) (c->rtp_port + 1));
                if (c->rtcp_fd < 0)
                        return fprintf(stderr, "bench-media: bind %s:%u: %s\n", IP_PEER, c->rtp_port + 1,
                                       strerror(-c->rtcp_fd)), c->rtcp_fd;
                if (setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int) { 1 }, sizeof(int)) < 0)
                        return -errno;
                r = sd_event_add_io(b->event, &c->io, c->fd, EPOLLIN, on_peer_io, c);
                if (r < 0)
                        return r;
                r = sd_event_add_io(b->event, &c->rtcp_io, c->rtcp_fd, EPOLLIN, on_rtcp_io, c);
                if (r < 0)
                        return r;
                if (mode_srtp(b->mode)) {
                        srtp_policy(&pol, c->tx_key, false);
                        if (srtp_create(&c->tx, &pol) != srtp_err_status_ok)
                                return c->tx = NULL, -EIO;
                        srtp_policy(&pol, c->rx_key, true);
                        if (srtp_create(&c->rx, &pol) != srtp_err_status_ok)
                                return c->rx = NULL, -EIO;
                }
        }
        return 0;
}

static void drain(Bench *b, uint64_t usec) {
        for (uint64_t end = now_usec(CLOCK_MONOTONIC) + usec; now_usec(CLOCK_MONOTONIC) < end;)
                (void) sd_event_run(b->event, 5 * USEC_PER_MSEC);
}

static int run_one(Bench *b, Mode mode, unsigned n, Result *res) {
        _cleanup_close_ int echo_in = -EBADF, echo_out = -EBADF;
        sd_event_source *timer = NULL;
        pid_t echo = 0;
        int r;

        *res = (Result) { .mode = mode, .n = n, .rss_kb = -1, .hwm_kb = -1 };
        b->mode = mode;
        b->res = res;
        b->run_no++;
        b->slot_window0 = WARMUP_MS;
        b->slot_window1 = WARMUP_MS + b->seconds * 1000;
        b->slots_total = b->slot_window1 + TAIL_MS;
        b->n_ids = b->slots_total / FRAME_MS + 2;
        b->slot = 0;
        b->done = false;
        fprintf(stderr, "bench-media: %u calls, %s ...\n", n, mode_name[mode]);

        r = calls_new(b, n);
        if (r >= 0)
                r = lat_init(&b->lat_out, (size_t) n * (b->slot_window1 - b->slot_window0) / FRAME_MS + n);
        if (r >= 0)
                r = lat_init(&b->lat_in, (size_t) n * (b->slot_window1 - b->slot_window0) / FRAME_MS + n);
        if (r < 0)
                goto finish;
        if (mode_echo(mode)) {
                r = echo_start(b, &echo, &echo_in, &echo_out);
                if (r < 0) {
                        fprintf(stderr, "bench-media: the echo did not start: %s\n", strerror(-r));
                        goto finish;
                }
                b->target = echo;
        } else {
                r = apply_controls(b, n, mode_rtp(mode) ? b->calls : NULL);
                if (r < 0)
                        goto finish;
                b->target = b->mediad;
        }

        b->t0 = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_MSEC;
        r = sd_event_add_time(b->event, &timer, CLOCK_MONOTONIC, b->t0, 1, on_slot, b);
        if (r < 0)
                goto finish;
        /* Bounded: the clock ends by itself after slots_total ms; 10 s more at most. */
        for (uint64_t end = b->t0 + (b->slots_total + 10000) * USEC_PER_MSEC;
             !b->done && !interrupted && now_usec(CLOCK_MONOTONIC) < end;)
                (void) sd_event_run(b->event, 50 * USEC_PER_MSEC);
        drain(b, 200 * USEC_PER_MSEC);
        if (!b->done) {
                r = -ETIMEDOUT;
                goto finish;
        }

        res->wall_s = (double) (b->cpu1.mono_us - b->cpu0.mono_us) / 1e6;
        res->cpu_stat_s = (double) (b->cpu1.ticks - b->cpu0.ticks) / (double) sysconf(_SC_CLK_TCK);
        res->cpu_clock_s = (double) (b->cpu1.ns - b->cpu0.ns) / 1e9;
        res->self_s = (double) (b->cpu1.self_ns - b->cpu0.self_ns) / 1e9;
        lat_percentiles(&b->lat_out, res->lat_out);
        lat_percentiles(&b->lat_in, res->lat_in);
        if (!mode_echo(mode)) {
                if (mode_rtp(mode))
                        mediad_counters(b, n, &res->mc);
                r = apply_controls(b, n, NULL);         /* the calls end */
        }

finish:
        sd_event_source_disable_unref(timer);
        if (echo > 0) {
                struct pollfd p = { .fd = echo_out, .events = POLLIN };
                EchoReport er;

                close(TAKE_FD(echo_in));        /* its stdin closed: it stops */
                if (poll(&p, 1, 3000) == 1 && read_full(echo_out, &er, sizeof er) >= 0) {
                        res->echo_packets = er.packets;
                        res->echo_crypto_ns = er.crypto_ns;
                }
                (void) child_reap(echo, 3000);
        }
        calls_free(b);
        lat_done(&b->lat_out);
        lat_done(&b->lat_in);
        b->res = NULL;
        return r;
}

/* ---------------------------------------------------------------- SRTP crypto alone */

/* libsrtp2's cipher and auth types (exported, not in its installed headers): their
 * descriptions name the crypto backend the library was built with. */
extern const srtp_cipher_type_t srtp_aes_icm_128;
extern const srtp_auth_type_t srtp_hmac;

#define CRYPTO_BATCH   1000
#define CRYPTO_BATCHES 200
#define CRYPTO_MAX_NS  (UINT64_C(3) * 1000000000u)

typedef struct CryptoFigures {
        unsigned packets;
        double protect_us, unprotect_us;
        unsigned openssl_packets;
        double openssl_us;
} CryptoFigures;

static void rtp_template(uint8_t *p, uint32_t i) {
        p[0] = 0x80;
        p[1] = 0;
        p[2] = (uint8_t) (i >> 8);
        p[3] = (uint8_t) i;
        for (int k = 0; k < 4; k++) {
                p[4 + k] = (uint8_t) ((i * GW_PCM_SAMPLES) >> (24 - 8 * k));
                p[8 + k] = (uint8_t) (0x12345678u >> (24 - 8 * k));
        }
        id_to_ulaw(i, p + 12);
}

static int crypto_libsrtp(CryptoFigures *f) {
        uint8_t key[KEY_LEN];
        _cleanup_free_ uint8_t *bufs = NULL;
        int lens[CRYPTO_BATCH];
        uint64_t prot = 0, unprot = 0;
        srtp_t tx = NULL, rx = NULL;
        srtp_policy_t pol;
        const size_t stride = 12 + GW_PCM_SAMPLES + SRTP_MAX_TRAILER_LEN;
        uint32_t seq = 0;
        int r = 0;

        bufs = malloc(CRYPTO_BATCH * stride);
        if (!bufs || getrandom(key, sizeof key, 0) != sizeof key)
                return -ENOMEM;
        srtp_policy(&pol, key, false);
        if (srtp_create(&tx, &pol) != srtp_err_status_ok)
                return -EIO;
        srtp_policy(&pol, key, true);
        if (srtp_create(&rx, &pol) != srtp_err_status_ok) {
                srtp_dealloc(tx);
                return -EIO;
        }
        for (unsigned batch = 0; batch < CRYPTO_BATCHES && prot + unprot < CRYPTO_MAX_NS; batch++) {
                uint64_t t0, t1, t2;

                for (unsigned i = 0; i < CRYPTO_BATCH; i++) {
                        rtp_template(bufs + i * stride, seq + i);
                        lens[i] = 12 + GW_PCM_SAMPLES;
                }
                t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
                for (unsigned i = 0; i < CRYPTO_BATCH; i++)
                        if (srtp_protect(tx, bufs + i * stride, &lens[i]) != srtp_err_status_ok)
                                r = -EIO;
                t1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
                for (unsigned i = 0; i < CRYPTO_BATCH; i++)
                        if (srtp_unprotect(rx, bufs + i * stride, &lens[i]) != srtp_err_status_ok)
                                r = -EACCES;
                t2 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
                prot += t1 - t0;
                unprot += t2 - t1;
                seq += CRYPTO_BATCH;
                f->packets += CRYPTO_BATCH;
        }
        srtp_dealloc(tx);
        srtp_dealloc(rx);
        explicit_bzero(key, sizeof key);
        f->protect_us = (double) prot / 1000.0 / f->packets;
        f->unprotect_us = (double) unprot / 1000.0 / f->packets;
        return r;
}

#if HAVE_OPENSSL
/* What srtp_protect computes for one packet, on OpenSSL's EVP directly: AES-128 in
 * counter mode over the payload, HMAC-SHA1 over header, payload and ROC (RFC 3711). */
static int crypto_openssl(CryptoFigures *f) {
        uint8_t key[16] = { 1 }, auth_key[20] = { 2 }, iv[16] = {}, pkt[12 + GW_PCM_SAMPLES], tag[20];
        char digest[] = "SHA1";
        OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                OSSL_PARAM_construct_end() };
        EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        EVP_MAC_CTX *mc = mac ? EVP_MAC_CTX_new(mac) : NULL;
        uint64_t ns = 0;
        int r = -EIO;

        if (!cc || !mc || EVP_EncryptInit_ex2(cc, EVP_aes_128_ctr(), key, iv, NULL) != 1 ||
            EVP_MAC_init(mc, auth_key, sizeof auth_key, params) != 1)
                goto finish;
        for (unsigned batch = 0; batch < CRYPTO_BATCHES && ns < CRYPTO_MAX_NS / 2; batch++) {
                uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);

                for (unsigned i = 0; i < CRYPTO_BATCH; i++) {
                        uint8_t roc[4] = {};
                        size_t tl;
                        int ol;

                        rtp_template(pkt, i);
                        iv[15] = (uint8_t) i;
                        if (EVP_EncryptInit_ex2(cc, NULL, NULL, iv, NULL) != 1 ||
                            EVP_EncryptUpdate(cc, pkt + 12, &ol, pkt + 12, GW_PCM_SAMPLES) != 1 ||
                            EVP_MAC_init(mc, NULL, 0, NULL) != 1 ||         /* the same key again */
                            EVP_MAC_update(mc, pkt, sizeof pkt) != 1 || EVP_MAC_update(mc, roc, 4) != 1 ||
                            EVP_MAC_final(mc, tag, &tl, sizeof tag) != 1)
                                goto finish;
                }
                ns += clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
                f->openssl_packets += CRYPTO_BATCH;
        }
        f->openssl_us = (double) ns / 1000.0 / f->openssl_packets;
        r = 0;
finish:
        EVP_MAC_CTX_free(mc);
        EVP_MAC_free(mac);
        EVP_CIPHER_CTX_free(cc);
        return r;
}
#endif

/* ---------------------------------------------------------------- output */

static void fmt_ms(char *buf, size_t n, double v) {
        if (isnan(v))
                snprintf(buf, n, "%7s", "-");
        else
                snprintf(buf, n, "%7.2f", v);
}

static const Result *floor_of(const Result *res, size_t n_res, const Result *r) {
        Mode want = r->mode == MODE_SRTP ? MODE_ECHO_SRTP : r->mode == MODE_PLAIN ? MODE_ECHO : _MODE_MAX;

        for (size_t i = 0; i < n_res; i++)
                if (res[i].mode == want && res[i].n == r->n)
                        return &res[i];
        return NULL;
}

static double per_call_s(const Result *r, double cpu_s) {
        return r->wall_s > 0 && r->n > 0 ? cpu_s * 1e6 / (r->n * r->wall_s) : NAN;
}

static void print_tables(const Bench *b, const Result *res, size_t n_res, double idle_us, long rss0[2],
                         long rss1[2], const CryptoFigures *cf) {
        printf("\nmediad under load: %u s measured per row after %u ms of warm-up; %ld CPUs online\n",
               b->seconds, WARMUP_MS, sysconf(_SC_NPROCESSORS_ONLN));
        printf("far ends %s <-> mediad %s (echo: %s); PCMU, 20 ms, 50 packets/s per call each way;\n",
               IP_PEER, IP_MEDIAD, IP_ECHO);
        printf("mediad's calls as sigd sets them up (telephone-event %d, sendrecv), SRTP %s\n", TE_PT, SUITE);

        printf("\n1. CPU per call-second: us of CPU per second of call (stat: /proc/<pid>/stat, 1/%ld s ticks;\n"
               "   clock: the process's CPU-time clock, ns). 'x floor': mediad / the echo of the same packets.\n",
               sysconf(_SC_CLK_TCK));
        printf("   mediad with no call and no frame: %.0f us of CPU per second (bus heartbeat, timers).\n", idle_us);
        printf("%5s  %-22s %11s %11s %7s %8s %10s %6s\n", "calls", "setup", "stat us/c-s", "clock us/c-s",
               "%core", "x floor", "peer %core", "late");
        for (size_t i = 0; i < n_res; i++) {
                const Result *r = &res[i], *f = floor_of(res, n_res, r);
                double clk = per_call_s(r, r->cpu_clock_s);
                char xf[16] = "-";

                if (f && per_call_s(f, f->cpu_clock_s) > 0)
                        snprintf(xf, sizeof xf, "%.1f", clk / per_call_s(f, f->cpu_clock_s));
                printf("%5u  %-22s %11.1f %11.1f %7.2f %8s %10.1f %6" PRIu64 "\n", r->n, mode_name[r->mode],
                       per_call_s(r, r->cpu_stat_s), clk, r->wall_s > 0 ? 100 * r->cpu_clock_s / r->wall_s : NAN,
                       xf, r->wall_s > 0 ? 100 * r->self_s / r->wall_s : NAN, r->late_ticks);
        }

        printf("\n2. Packets in the measured window. To the far end: mediad's RTP for the up frames sent\n"
               "   (echo: our packets back); to the line: our RTP that came out in a down frame ('lost':\n"
               "   never heard with its id: lost, late, or merged into its neighbour by the playout).\n"
               "   mediad's own counters are session totals (warm-up and tail included): received,\n"
               "   dropped, SRTP authentication failures; the playout's lost and late packets, frames\n"
               "   concealed, grown and shrunk, and its largest delay in ms.\n");
        printf("%5s  %-22s %9s %9s %6s %5s | %9s %9s %6s | %9s %7s %5s %7s %6s %7s %6s %6s %5s\n", "calls",
               "setup", "expected", "received", "lost", "auth", "sent", "played", "lost",
               "md rx", "dropped", "authf", "pl.lost", "late", "conceal", "grown", "shrunk", "delay");
        for (size_t i = 0; i < n_res; i++) {
                const Result *r = &res[i];
                uint64_t exp = mode_echo(r->mode) ? r->in_sent : r->out_expected;

                if (!mode_rtp(r->mode))
                        printf("%5u  %-22s %9s %9s %6s %5s | ", r->n, mode_name[r->mode], "-", "-", "-", "-");
                else
                        printf("%5u  %-22s %9" PRIu64 " %9" PRIu64 " %6" PRId64 " %5" PRIu64 " | ", r->n,
                               mode_name[r->mode], exp, r->out_received, (int64_t) (exp - r->out_received),
                               r->out_auth_failed);
                if (mode_echo(r->mode) || !mode_rtp(r->mode))
                        printf("%9s %9s %6s | ", "-", "-", "-");
                else
                        printf("%9" PRIu64 " %9" PRIu64 " %6" PRId64 " | ", r->in_sent, r->in_played,
                               (int64_t) (r->in_sent - r->in_played));
                if (r->mc.valid)
                        printf("%9" PRIu64 " %7" PRIu64 " %5" PRIu64 " %7" PRIu64 " %6" PRIu64 " %7" PRIu64 " %6" PRIu64
                               " %6" PRIu64 " %5" PRIu32 "\n", r->mc.rx, r->mc.dropped, r->mc.auth_failed,
                               r->mc.playout_lost, r->mc.playout_late, r->mc.concealed, r->mc.grown, r->mc.shrunk,
                               r->mc.max_delay_ms);
                else
                        printf("%9s %7s %5s %7s %6s %7s %6s %6s %5s\n", "-", "-", "-", "-", "-", "-", "-", "-", "-");
                if (r->out_bad || r->out_events)
                        printf("%5s  (from the far end's view also: %" PRIu64 " malformed/unexpected, %" PRIu64
                               " telephone-event packets)\n", "", r->out_bad, r->out_events);
        }

        printf("\n3. One-way latency, ms. line->RTP: an up frame handed to mediad -> the kernel's receive stamp\n"
               "   of the RTP packet carrying it; RTP->line: a packet sent -> the down frame carrying it\n"
               "   arrives on the line side. Floor rows: the echo's round trip (both ways).\n");
        printf("%5s  %-22s %7s %7s %7s %7s | %7s %7s %7s %7s\n", "calls", "setup", "p50", "p90", "p99", "max",
               "p50", "p90", "p99", "max");
        for (size_t i = 0; i < n_res; i++) {
                const Result *r = &res[i];
                char v[8][16];

                if (!mode_rtp(r->mode))
                        continue;
                for (int k = 0; k < 4; k++) {
                        fmt_ms(v[k], sizeof v[k], r->lat_out[k]);
                        fmt_ms(v[4 + k], sizeof v[k], r->lat_in[k]);
                }
                printf("%5u  %-22s %s %s %s %s | %s %s %s %s\n", r->n, mode_name[r->mode],
                       v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
        }

        printf("\n4. mediad's memory, kB (/proc/<pid>/status)\n");
        printf("%-36s %9s %9s\n", "", "VmRSS", "VmHWM");
        printf("%-36s %9ld %9ld\n", "started, no call", rss0[0], rss0[1]);
        for (size_t i = 0; i < n_res; i++) {
                char what[64];

                if (res[i].rss_kb < 0)
                        continue;
                snprintf(what, sizeof what, "%u calls, %s", res[i].n, mode_name[res[i].mode] + 7);
                printf("%-36s %9ld %9ld\n", what, res[i].rss_kb, res[i].hwm_kb);
        }
        printf("%-36s %9ld %9ld\n", "all calls ended", rss1[0], rss1[1]);

        printf("\n5. SRTP crypto alone, per 172-byte packet, this process (thread CPU time)\n");
        printf("   %s: '%s' + '%s'\n", srtp_get_version_string(), srtp_aes_icm_128.description,
               srtp_hmac.description);
        printf("   srtp_protect %.2f us, srtp_unprotect %.2f us (%u packets): %.0f us per call-second\n"
               "   (50 of each)\n", cf->protect_us, cf->unprotect_us, cf->packets,
               50 * (cf->protect_us + cf->unprotect_us));
        for (size_t i = 0; i < n_res; i++)
                if (res[i].mode == MODE_ECHO_SRTP && res[i].echo_packets)
                        printf("   inside the floor's echo, %3u calls: unprotect+protect %.2f us per packet (%" PRIu64
                               " packets): %.0f us per call-second\n", res[i].n,
                               (double) res[i].echo_crypto_ns / 1000.0 / res[i].echo_packets, res[i].echo_packets,
                               50 * (double) res[i].echo_crypto_ns / 1000.0 / res[i].echo_packets);
#if HAVE_OPENSSL
        if (cf->openssl_packets)
                printf("   the same AES-128-CTR + HMAC-SHA1 on OpenSSL %s EVP: %.2f us per packet (%u packets)\n",
                       OpenSSL_version(OPENSSL_VERSION_STRING), cf->openssl_us, cf->openssl_packets);
#endif
}

/* ---------------------------------------------------------------- main */

static int parse_calls(const char *s, unsigned *ret, size_t max, size_t *ret_n) {
        size_t n = 0;

        for (const char *p = s; *p && n < max;) {
                char *end;
                unsigned long v = strtoul(p, &end, 10);

                if (end == p || v < 1 || v > MAX_CALLS)
                        return -EINVAL;
                ret[n++] = (unsigned) v;
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',')
                        return -EINVAL;
        }
        *ret_n = n;
        return n > 0 ? 0 : -EINVAL;
}

static int write_config(const Bench *b, const char *path, char **ret_text) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        int fd;

        if (!f)
                return -ENOMEM;
        fprintf(f, "# bench-media: mediad alone on %s\n"
                "sip: {listen: '%s:5062'}\n"
                "profiles: [{name: p, proxy: 192.0.2.1}]\n"
                "bus: {runtime_dir: %s}\n"
                "log: {level: warning}\n"
                "lines:\n", IP_MEDIAD, IP_MEDIAD, b->dir);
        for (unsigned i = 1; i <= b->n_lines; i++)
                fprintf(f, "  - {port: %u, number: '%u'}\n", i, 1000 + i);
        if (fclose(f) != 0)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (write_full(fd, text, size) < 0) {
                close(fd);
                return -EIO;
        }
        close(fd);
        *ret_text = TAKE_PTR(text);
        return 0;
}

static int mediad_start(Bench *b, const char *exe, const char *config) {
        char log[128];
        pid_t pid;
        int fd;

        snprintf(log, sizeof log, "%s/mediad.log", b->dir);
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                close(fd);
                return -errno;
        }
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(1);
                execl(exe, "mediad", "--config", config, (char *) NULL);
                _exit(127);
        }
        close(fd);
        b->mediad = pid;
        return 0;
}

/* Until mediad answers on the bus and on the data plane: 15 s at most. */
static int mediad_wait_ready(Bench *b) {
        uint64_t end = now_usec(CLOCK_MONOTONIC) + 15 * USEC_PER_SEC;

        while (b->pcm_rx == 0 && now_usec(CLOCK_MONOTONIC) < end && !interrupted && mediad_alive(b)) {
                GwPcmFrame f = { .port = 1, .mono_us = now_usec(CLOCK_MONOTONIC) };

                (void) gw_pcm_send(b->pcm, &f);         /* on hook: mediad answers, nothing else */
                (void) sd_event_run(b->event, 50 * USEC_PER_MSEC);
        }
        if (b->pcm_rx == 0)
                return -ETIMEDOUT;
        return apply_controls(b, b->n_lines, NULL);
}

static void usage(void) {
        fprintf(stderr, "usage: bench-media MEDIAD [--seconds S (1..%d, 10)] [--calls N,N,.. (8,32,128)] "
                "[--port-base P (24000)]\n", MAX_SECONDS);
}

int main(int argc, char **argv) {
        static const Mode per_size[] = { MODE_PLAIN, MODE_SRTP, MODE_ECHO, MODE_ECHO_SRTP, MODE_PCM };
        Bench b = { .seconds = 10, .port_base = 24000 };
        unsigned sizes[8] = { 8, 32, 128 };
        size_t n_sizes = 3, n_res = 0;
        _cleanup_free_ Result *res = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        const char *exe;
        char config[128], cmd[160];
        long rss0[2] = { -1, -1 }, rss1[2] = { -1, -1 };
        double idle_us = NAN;
        ssize_t n_self;
        CryptoFigures cf = {};
        struct sigaction sa = { .sa_handler = on_signal };
        int r;

        if (argc == 2 && streq(argv[1], "--echo"))
                return echo_main();
        if (argc < 2 || argv[1][0] == '-') {
                usage();
                return 2;
        }
        exe = argv[1];
        /* Resolved now (valgrind reports the program's path here, not its own). */
        n_self = readlink("/proc/self/exe", b.self_exe, sizeof b.self_exe - 1);
        if (n_self <= 0)
                return 1;
        b.self_exe[n_self] = 0;
        for (int i = 2; i < argc; i++) {
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;

                if (streq(argv[i], "--seconds") && v) {
                        b.seconds = (unsigned) strtoul(v, NULL, 10);
                        if (b.seconds < 1 || b.seconds > MAX_SECONDS)
                                return usage(), 2;
                } else if (streq(argv[i], "--calls") && v) {
                        if (parse_calls(v, sizes, ELEMENTSOF(sizes), &n_sizes) < 0)
                                return usage(), 2;
                } else if (streq(argv[i], "--port-base") && v) {
                        unsigned long p = strtoul(v, NULL, 10);
                        if (p < 1024 || p % 2 || p + 2 * MAX_CALLS > 65535)
                                return usage(), 2;
                        b.port_base = (uint16_t) p;
                } else
                        return usage(), 2;
                i++;
        }
        if (access(exe, X_OK) < 0) {
                fprintf(stderr, "bench-media: %s: %m, skipping\n", exe);
                return 77;
        }
        for (size_t i = 0; i < n_sizes; i++)
                b.n_lines = MAX(b.n_lines, sizes[i]);
        res = calloc(n_sizes * (ELEMENTSOF(per_size) + 1), sizeof(*res));
        if (!res)
                return 1;
        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);
        if (srtp_init() != srtp_err_status_ok)
                return 1;

        snprintf(b.dir, sizeof b.dir, "/tmp/bench-media-XXXXXX");
        if (!mkdtemp(b.dir))
                return 1;
        snprintf(config, sizeof config, "%s/mediad.yaml", b.dir);
        r = write_config(&b, config, &text);
        if (r >= 0)
                r = gw_conf_load_string(config, text, &b.conf, &error);
        if (r < 0) {
                fprintf(stderr, "bench-media: config: %s\n", error ? error : strerror(-r));
                goto finish;
        }
        b.gen = calloc(b.n_lines + 1, sizeof(*b.gen));
        b.want_call = calloc(b.n_lines + 1, sizeof(*b.want_call));
        b.acked = calloc(b.n_lines + 1, sizeof(*b.acked));
        if (!b.gen || !b.want_call || !b.acked) {
                r = -ENOMEM;
                goto finish;
        }
        r = sd_event_new(&b.event);
        if (r >= 0)
                r = gw_bus_new(b.event, b.conf, GW__SERVICE__SERVICE_SIGD, &b.bus);
        if (r >= 0) {
                gw_bus_set_handlers(b.bus, sigd_handlers, ELEMENTSOF(sigd_handlers), &b);
                r = gw_bus_subscribe(b.bus, "MediaState");
        }
        /* The other daemons' buses, so that mediad's SUBs connect as in a gateway instead of
         * retrying absent peers every 50 ms (which costs it about 0.6 % of a core here). */
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(b.others); i++)
                r = gw_bus_new(b.event, b.conf, (Gw__Service[]) { GW__SERVICE__SERVICE_GWSUPD, GW__SERVICE__SERVICE_REGD,
                                                                  GW__SERVICE__SERVICE_LINEHWD }[i], &b.others[i]);
        if (r >= 0)
                r = gw_pcm_new(b.event, b.conf, GW_PCM_LINE, on_down, &b, &b.pcm);
        if (r >= 0)
                r = mediad_start(&b, exe, config);
        if (r >= 0)
                r = mediad_wait_ready(&b);
        if (r < 0) {
                fprintf(stderr, "bench-media: mediad did not come up: %s (log: %s/mediad.log)\n", strerror(-r), b.dir);
                goto finish;
        }
        drain(&b, USEC_PER_SEC);
        proc_rss(b.mediad, &rss0[0], &rss0[1]);
        {
                CpuSample c0, c1;

                cpu_sample(b.mediad, &c0);
                drain(&b, 3 * USEC_PER_SEC);
                cpu_sample(b.mediad, &c1);
                idle_us = (double) (c1.ns - c0.ns) / 1000.0 / ((double) (c1.mono_us - c0.mono_us) / 1e6);
        }

        for (size_t s = 0; s < n_sizes && r >= 0; s++)
                for (size_t m = 0; m < ELEMENTSOF(per_size) + (s == 0) && r >= 0 && !interrupted; m++) {
                        /* Without telephone-event once, at the first size: the latency without the look-ahead. */
                        r = run_one(&b, m < ELEMENTSOF(per_size) ? per_size[m] : MODE_NO_TE, sizes[s], &res[n_res]);
                        if (r >= 0)
                                n_res++;
                }
        if (r < 0 || interrupted) {
                fprintf(stderr, "bench-media: stopped: %s\n", interrupted ? "interrupted" : strerror(-r));
                r = r < 0 ? r : -EINTR;
                goto finish;
        }
        drain(&b, USEC_PER_SEC);
        proc_rss(b.mediad, &rss1[0], &rss1[1]);

        r = crypto_libsrtp(&cf);
#if HAVE_OPENSSL
        if (r >= 0)
                r = crypto_openssl(&cf);
#endif
        if (r < 0)
                fprintf(stderr, "bench-media: crypto figures failed: %s\n", strerror(-r));
        print_tables(&b, res, n_res, idle_us, rss0, rss1, &cf);
        r = 0;

finish:
        if (b.mediad > 0) {
                int status;

                (void) kill(b.mediad, SIGTERM);
                status = child_reap(b.mediad, 5000);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "bench-media: mediad ended with status 0x%x\n", (unsigned) status);
                        r = r < 0 ? r : -EPROTO;
                }
        }
        {
                /* Whatever mediad logged (warnings and worse): part of the result. */
                char path[128], line[512];
                FILE *f;

                snprintf(path, sizeof path, "%s/mediad.log", b.dir);
                f = fopen(path, "re");
                for (unsigned i = 0; f && i < 40 && fgets(line, sizeof line, f); i++)
                        fprintf(stderr, "mediad: %s", line);
                if (f)
                        fclose(f);
        }
        gw_pcm_free(b.pcm);
        gw_bus_free(b.bus);
        for (size_t i = 0; i < ELEMENTSOF(b.others); i++)
                gw_bus_free(b.others[i]);
        sd_event_unref(b.event);
        gw_conf_free(b.conf);
        free(b.gen);
        free(b.want_call);
        free(b.acked);
        (void) srtp_shutdown();
        if (r >= 0) {
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", b.dir);
                (void) !system(cmd);
        } else
                fprintf(stderr, "bench-media: left %s for inspection\n", b.dir);
        return r < 0 ? 1 : 0;
}
