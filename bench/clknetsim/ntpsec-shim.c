/*
 * ntpsec-shim: lets NTPsec's ntpd run under clknetsim unchanged.
 *
 * Preloaded before clknetsim's library (LD_PRELOAD=ntpsec-shim.so:clknetsim.so)
 * for the NTPsec client only; accuracy-vs-chrony.sh builds it with
 *   cc -O2 -fPIC -shared -o ntpsec-shim.so ntpsec-shim.c -ldl
 *
 * Two calls NTPsec 1.2 makes are not simulated by clknetsim:
 *
 * 1. pselect(): ntpd's main loop waits in pselect(), which clknetsim does not
 *    intercept. The real pselect() then sees clknetsim's socket descriptors,
 *    which do not exist in the kernel, fails with EBADF, and ntpd spins on
 *    "IO: select() error: Bad file descriptor" without ever waiting in a
 *    simulated call, so simulated time never advances. Here pselect() becomes
 *    select() (which clknetsim simulates) with the caller's signal mask set
 *    around it. That is not atomic as the real call is, but in the simulation
 *    signals are raised only from inside select() itself (timer expiry), while
 *    the mask is in force, so none can slip in between.
 *
 * 2. SO_TIMESTAMPNS: ntpd takes each packet's receive time from an
 *    SCM_TIMESTAMPNS control message; clknetsim only produces
 *    SCM_TIMESTAMPING, so ntpd logs "fetch_timestamp: no msghdrs" and cannot
 *    use any reply. Here recvmsg() on a socket that asked for SO_TIMESTAMPNS
 *    gets that message appended, stamped with the simulated CLOCK_REALTIME at
 *    the moment the packet is handed over, which is what clknetsim itself
 *    reports as a software receive timestamp.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>

int pselect(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds, const struct timespec *timeout,
            const sigset_t *sigmask)
{
    struct timeval tv, *tvp = NULL;
    sigset_t saved;
    int ret;

    if (timeout) {
        tv.tv_sec = timeout->tv_sec;
        tv.tv_usec = timeout->tv_nsec / 1000;
        tvp = &tv;
    }
    if (sigmask)
        sigprocmask(SIG_SETMASK, sigmask, &saved);
    ret = select(nfds, readfds, writefds, exceptfds, tvp);
    if (sigmask)
        sigprocmask(SIG_SETMASK, &saved, NULL);
    return ret;
}

#define MAX_FD 4096
static unsigned char wants_timestampns[MAX_FD];

int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
    static int (*next)(int, int, int, const void *, socklen_t);

    if (!next)
        next = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
    if (level == SOL_SOCKET && name == SO_TIMESTAMPNS && fd >= 0 && fd < MAX_FD && value &&
        len >= (socklen_t)sizeof(int))
        wants_timestampns[fd] = *(const int *)value != 0;
    return next(fd, level, name, value, len);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    static ssize_t (*next)(int, struct msghdr *, int);
    struct cmsghdr *cmsg;
    struct timespec now;
    size_t room, used;
    ssize_t n;

    if (!next)
        next = (ssize_t (*)(int, struct msghdr *, int))dlsym(RTLD_NEXT, "recvmsg");
    room = msg->msg_controllen;
    n = next(fd, msg, flags);
    if (n < 0 || fd < 0 || fd >= MAX_FD || !wants_timestampns[fd] || !msg->msg_control)
        return n;
    /* clknetsim leaves msg_controllen at the length of what it wrote */
    used = msg->msg_controllen;
    if (used + CMSG_SPACE(sizeof now) > room)
        return n;
    clock_gettime(CLOCK_REALTIME, &now);
    cmsg = (struct cmsghdr *)((char *)msg->msg_control + used);
    memset(cmsg, 0, CMSG_SPACE(sizeof now));
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_TIMESTAMPNS;
    cmsg->cmsg_len = CMSG_LEN(sizeof now);
    memcpy(CMSG_DATA(cmsg), &now, sizeof now);
    msg->msg_controllen = used + CMSG_SPACE(sizeof now);
    return n;
}
