/*
 * sandpit-probe: a tiny static helper that runs INSIDE a sandpit sandbox and
 * reports, one line per check, whether a syscall or path access is permitted,
 * so tests can assert the seccomp and mount policy check by check (in the
 * spirit of bubblewrap's tests/try-syscall.c).
 *
 *   usage: sandpit-probe CHECK [CHECK...]
 *   output: "CHECK RESULT" per check, RESULT = "ok" or an errno name (EPERM,
 *   ENOSYS, ...; "errno=N" when not in the table). Info checks (fds, caps,
 *   uid, env) print data instead. Unknown check: "CHECK unknown", exit 2.
 *
 * Every syscall is made with arguments that fail harmlessly (or do nothing)
 * if the call is allowed, so a distinct errno shows the call got past
 * seccomp. A seccomp kill ends the process; the caller sees the signal.
 * Build: gcc -std=gnu11 -static -O2 -Wall -Wextra -o sandpit-probe sandpit-probe.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <linux/ptrace.h>

extern char **environ;

#define NOPATH "/nonexistent-sandpit-probe"

static const struct { int e; const char *name; } errnames[] = {
#define E(x) { x, #x }
    E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
    E(ENOEXEC), E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES),
    E(EFAULT), E(ENOTBLK), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV),
    E(ENOTDIR), E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY),
    E(ETXTBSY), E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK),
    E(EPIPE), E(ERANGE), E(ENAMETOOLONG), E(ENOSYS), E(ENOTEMPTY), E(ELOOP),
    E(ENODATA), E(EOVERFLOW), E(EUSERS), E(ENOTSOCK), E(EPROTOTYPE),
    E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT), E(EOPNOTSUPP), E(EPFNOSUPPORT),
    E(EAFNOSUPPORT), E(EADDRINUSE), E(ENOTCONN), E(ECONNREFUSED), E(ESTALE),
    E(EDQUOT), E(ENOMEDIUM), E(ENOKEY), E(EKEYREJECTED), E(ENOPKG),
#undef E
};

static const char *errname(int e)
{
    static char buf[32];
    if (e == 0)
        return "ok";
    for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
        if (errnames[i].e == e)
            return errnames[i].name;
    snprintf(buf, sizeof buf, "errno=%d", e);
    return buf;
}

/* Map a raw syscall return to 0 / errno; fd-returning calls get closed. */
static int rc(long r) { return r < 0 ? errno : 0; }
static int fdrc(long r) { return r < 0 ? errno : (close((int)r), 0); }

/* Reap a fork-like child that should just _exit(0). */
static int reap(long pid, int flags)
{
    int st;
    if (pid == 0)
        _exit(0);
    if (pid < 0 || waitpid((pid_t)pid, &st, flags) < 0)
        return errno;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : ECHILD;
}

/* Run fn(arg) in a forked child and return the errno it reports through a
 * CLOEXEC pipe. Used for calls that would change this process's namespaces or
 * credentials, and for exec (for_exec: no report means the exec succeeded).
 * Otherwise, if the child is killed (e.g. seccomp KILL), die with the same
 * signal so the caller sees it as if the probe itself had made the call. */
static int child_errno(int (*fn)(const void *), const void *arg, int for_exec)
{
    int p[2], e = 0, st;
    if (pipe2(p, O_CLOEXEC) < 0)
        return errno;
    pid_t pid = fork();
    if (pid == 0) { /* keep the report fd out of 0-2, which c_exec replaces */
        int w = fcntl(p[1], F_DUPFD_CLOEXEC, 3);
        e = fn(arg);
        _exit(write(w, &e, sizeof e) == sizeof e ? 0 : 127);
    }
    if (pid < 0)
        e = errno;
    close(p[1]);
    if (pid > 0 && read(p[0], &e, sizeof e) != sizeof e)
        e = for_exec ? 0 : EIO;
    close(p[0]);
    if (pid > 0 && waitpid(pid, &st, 0) == pid && !for_exec && WIFSIGNALED(st)) {
        signal(WTERMSIG(st), SIG_DFL);
        raise(WTERMSIG(st));
        _exit(128 + WTERMSIG(st));
    }
    return e;
}

static int c_unshare(const void *flags) { return rc(syscall(SYS_unshare, *(const int *)flags)); }
static int c_setuid0(const void *unused) { (void)unused; return rc(syscall(SYS_setuid, 0)); }
static int unshare_in_child(int flags) { return child_errno(c_unshare, &flags, 0); }

static int c_exec(const void *path)
{
    char *argv[] = { (char *)path, "--version", NULL };
    int null = open("/dev/null", O_RDWR);
    for (int fd = 0; null >= 0 && fd < 3; fd++)
        dup2(null, fd);
    execve(path, argv, environ);
    return errno;
}

static int sock(int domain, int type, int proto)
{
    return fdrc(socket(domain, type | SOCK_CLOEXEC, proto));
}

/* tty ioctls go to fd -1: EBADF if the request is allowed, and nothing can
 * ever be injected into a real terminal. 6 = TIOCL_GETSHIFTSTATE. */
static int tty_ioctl(unsigned long req)
{
    char c = 6;
    return rc(syscall(SYS_ioctl, -1, req, &c));
}

/* Re-set the tick value just read: a no-op that still needs CAP_SYS_TIME. */
static int c_adjtime(int use_clock)
{
    struct timex tx = {0};
    for (int pass = 0; pass < 2; pass++, tx.modes = ADJ_TICK)
        if ((use_clock ? syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx)
                       : syscall(SYS_adjtimex, &tx)) < 0)
            return errno;
    return 0;
}

static int c_int80(void)
{
#if defined(__x86_64__)
    long r = 20; /* i386 __NR_getpid */
    __asm__ volatile("int $0x80" : "+a"(r) : : "r8", "r9", "r10", "r11", "memory", "cc");
    return (int)r > 0 ? 0 : (int)r < 0 ? -(int)r : EINVAL;
#else
    return ENOSYS;
#endif
}

/* mknod / chown a scratch file in /tmp, then remove it. */
static int scratch(int chown_it)
{
    char p[64];
    int e, fd;
    snprintf(p, sizeof p, "/tmp/probe-%s.%d", chown_it ? "f" : "null", (int)getpid());
    if (!chown_it)
        return mknod(p, S_IFCHR | 0666, makedev(1, 3)) < 0 ? errno : (unlink(p), 0);
    if ((fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        return errno;
    close(fd);
    e = rc(syscall(SYS_chown, p, 0, 0));
    unlink(p);
    return e;
}

static int syscall_check(const char *c)
{
    struct timespec ts;
    struct perf_event_attr pa = {0};
    struct iovec liov = { &ts, 1 }, riov = { NULL, 1 }; /* remote NULL: EFAULT if allowed */
    struct { unsigned int bytes; int type; unsigned char h[128]; } fh = { 128, 0, {0} };
    uint64_t words[15] = {0}; /* zeroed io_uring_params / clone_args / mount_attr */
    long r;
    int mnt;
#define IS(n) (strcmp(c, n) == 0)
    if (IS("getpid")) return rc(syscall(SYS_getpid));
    if (IS("fork")) return reap(fork(), 0);
    if (IS("mount")) return rc(syscall(SYS_mount, "none", NOPATH, "tmpfs", 0UL, NULL));
    if (IS("umount2")) return rc(syscall(SYS_umount2, NOPATH, 0));
    if (IS("pivot_root")) return rc(syscall(SYS_pivot_root, NOPATH, NOPATH "/old"));
    if (IS("chroot")) return rc(syscall(SYS_chroot, "/"));
    if (IS("fsopen")) return fdrc(syscall(SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */));
    if (IS("fsmount")) return fdrc(syscall(SYS_fsmount, -1, 0, 0));
    if (IS("fsconfig")) return rc(syscall(SYS_fsconfig, -1, 6 /* CMD_CREATE */, NULL, NULL, 0));
    if (IS("fspick")) return fdrc(syscall(SYS_fspick, AT_FDCWD, NOPATH, 1 /* CLOEXEC */));
    if (IS("open_tree")) /* OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC */
        return fdrc(syscall(SYS_open_tree, AT_FDCWD, NOPATH, 1 | O_CLOEXEC));
    if (IS("move_mount")) return rc(syscall(SYS_move_mount, AT_FDCWD, NOPATH, AT_FDCWD, NOPATH, 0));
    if (IS("mount_setattr")) { /* attr_set = MOUNT_ATTR_RDONLY, on a missing path */
        words[0] = 1;
        return rc(syscall(SYS_mount_setattr, AT_FDCWD, NOPATH, 0, words, 32UL));
    }
    if (IS("ptrace")) {
        if ((r = syscall(SYS_ptrace, PTRACE_ATTACH, 1, 0, 0)) == 0)
            syscall(SYS_ptrace, PTRACE_DETACH, 1, 0, 0); /* or auto-detach at exit */
        return rc(r);
    }
    if (IS("process_vm_readv"))
        return rc(syscall(SYS_process_vm_readv, getpid(), &liov, 1UL, &riov, 1UL, 0UL));
    if (IS("process_vm_writev"))
        return rc(syscall(SYS_process_vm_writev, getpid(), &liov, 1UL, &riov, 1UL, 0UL));
    if (IS("bpf")) return fdrc(syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0));
    if (IS("perf_event_open")) { /* self-monitoring sw counter; allowed at paranoid<=2 */
        pa.size = sizeof pa;
        pa.type = PERF_TYPE_SOFTWARE;
        pa.config = PERF_COUNT_SW_CPU_CLOCK;
        pa.disabled = pa.exclude_kernel = pa.exclude_hv = 1;
        return fdrc(syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0UL));
    }
    if (IS("userfaultfd")) return fdrc(syscall(SYS_userfaultfd, O_CLOEXEC));
    if (IS("io_uring_setup")) return fdrc(syscall(SYS_io_uring_setup, 1, words));
    if (IS("io_uring_enter")) return rc(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0));
    if (IS("io_uring_register")) return rc(syscall(SYS_io_uring_register, -1, 0, NULL, 0));
    if (IS("keyctl")) /* KEYCTL_GET_KEYRING_ID of the (absent) process keyring */
        return rc(syscall(SYS_keyctl, 0, -2, 0));
    if (IS("add_key")) return rc(syscall(SYS_add_key, NULL, NULL, NULL, 0, -2));
    if (IS("request_key")) return rc(syscall(SYS_request_key, NULL, NULL, NULL, 0));
    /* Invalid flags: EINVAL only after the CAP_SYS_BOOT check. */
    if (IS("kexec_load")) return rc(syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0x8000UL));
    if (IS("kexec_file_load")) return rc(syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL, 0x8000UL));
    if (IS("init_module")) return rc(syscall(SYS_init_module, NULL, 0UL, ""));
    if (IS("finit_module")) return rc(syscall(SYS_finit_module, -1, "", 0));
    if (IS("delete_module")) return rc(syscall(SYS_delete_module, "sandpit_probe_none", O_NONBLOCK));
    if (IS("setns")) return rc(syscall(SYS_setns, -1, 0));
    if (IS("unshare_user")) return unshare_in_child(CLONE_NEWUSER);
    if (IS("unshare_net")) return unshare_in_child(CLONE_NEWNET);
    if (IS("unshare_ns")) return unshare_in_child(CLONE_NEWNS);
    if (IS("clone_newuser")) return reap(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0), 0);
    if (IS("clone_newns")) return reap(syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0), 0);
    if (IS("clone3")) /* zeroed clone_args, CLONE_ARGS_SIZE_VER0; exit_signal 0 */
        return reap(syscall(SYS_clone3, words, 64UL), __WALL);
    if (IS("open_by_handle_at")) return fdrc(syscall(SYS_open_by_handle_at, -1, NULL, O_RDONLY));
    if (IS("name_to_handle_at")) return rc(syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &fh, &mnt, 0));
    if (IS("reboot")) return rc(syscall(SYS_reboot, 0, 0, 0, NULL)); /* bad magic */
    if (IS("swapon")) return rc(syscall(SYS_swapon, NOPATH, 0));
    if (IS("swapoff")) return rc(syscall(SYS_swapoff, NOPATH));
    if (IS("acct")) return rc(syscall(SYS_acct, NOPATH)); /* not NULL: never disables acct */
    if (IS("quotactl")) /* QCMD(Q_GETQUOTA, USRQUOTA) */
        return rc(syscall(SYS_quotactl, 0x800007UL << 8, NOPATH, 0, NULL));
    if (IS("syslog")) return rc(syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0));
    if (IS("settimeofday")) return rc(syscall(SYS_settimeofday, NULL, NULL));
    if (IS("clock_settime")) /* set the clock to the time just read */
        return clock_gettime(CLOCK_REALTIME, &ts) < 0 ? errno
               : rc(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts));
    if (IS("adjtimex")) return c_adjtime(0);
    if (IS("clock_adjtime")) return c_adjtime(1);
    if (IS("personality")) { /* PER_LINUX32, then restore */
        long old = syscall(SYS_personality, 0xffffffffUL);
        if ((r = syscall(SYS_personality, 0x0008UL)) >= 0)
            syscall(SYS_personality, old < 0 ? 0UL : (unsigned long)old);
        return rc(r);
    }
    if (IS("personality_query")) return rc(syscall(SYS_personality, 0xffffffffUL));
    if (IS("tiocsti")) return tty_ioctl(TIOCSTI);
    if (IS("tiocsti_hi")) return tty_ioctl(0x100000000UL | TIOCSTI);
    if (IS("tioclinux")) return tty_ioctl(TIOCLINUX);
    if (IS("tioclinux_hi")) return tty_ioctl(0x100000000UL | TIOCLINUX);
    if (IS("socket_unix")) return sock(AF_UNIX, SOCK_STREAM, 0);
    if (IS("socket_inet")) return sock(AF_INET, SOCK_STREAM, 0);
    if (IS("socket_inet6")) return sock(AF_INET6, SOCK_STREAM, 0);
    if (IS("socket_netlink")) return sock(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    if (IS("socket_packet")) return sock(AF_PACKET, SOCK_RAW, 0);
    if (IS("socket_bluetooth")) return sock(31, SOCK_STREAM, 0);
    if (IS("socket_alg")) return sock(38, SOCK_SEQPACKET, 0);
    if (IS("socket_vsock")) return sock(40, SOCK_STREAM, 0);
    if (IS("socket_key")) return sock(15, SOCK_RAW, 2 /* PF_KEY_V2 */);
    if (IS("pidfd_getfd")) return fdrc(syscall(SYS_pidfd_getfd, -1, 0, 0));
    if (IS("lookup_dcookie")) return rc(syscall(SYS_lookup_dcookie, 0UL, NULL, 0UL));
#if defined(__x86_64__)
    if (IS("x32")) return rc(syscall(0x40000000L | SYS_getpid)); /* __X32_SYSCALL_BIT */
#else
    if (IS("x32")) return ENOSYS;
#endif
    if (IS("int80")) return c_int80();
    if (IS("mknod")) return scratch(0);
    if (IS("chown_root")) return scratch(1);
    if (IS("setuid0")) return child_errno(c_setuid0, NULL, 0);
    if (IS("tty")) return fdrc(open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
#undef IS
    return -1;
}

static int path_check(const char *op, const char *path)
{
    char b = 0;
    struct stat st;
    int fd, e = 0;
    if (strcmp(op, "stat") == 0)
        return rc(lstat(path, &st));
    if (strcmp(op, "mkdir") == 0) {
        if (mkdir(path, 0700) < 0)
            return errno;
        rmdir(path);
        return 0;
    }
    if (strcmp(op, "read") == 0) {
        if ((fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) < 0)
            return errno;
        if (read(fd, &b, 1) < 0 && errno != EAGAIN)
            e = errno;
        close(fd);
        return e;
    }
    if (strcmp(op, "write") == 0) {
        int existed = lstat(path, &st) == 0;
        /* Never truncate or clobber: existing files get a 0-byte append. */
        fd = existed ? open(path, O_WRONLY | O_APPEND | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
                     : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            return errno;
        if (write(fd, &b, existed ? 0 : 1) < 0)
            e = errno;
        close(fd);
        if (!existed)
            unlink(path);
        return e;
    }
    if (strcmp(op, "exec") == 0)
        return child_errno(c_exec, path, 1);
    return -1;
}

static void print_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    const char *sep = "";
    printf("fds ");
    if (!d) {
        printf("%s\n", errname(errno));
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
            continue;
        printf("%s%s", sep, de->d_name);
        sep = ",";
    }
    closedir(d);
    printf("\n");
}

/* "caps CapInh:0000... CapPrm:... ... NoNewPrivs:1 Seccomp:2" */
static void print_caps(void)
{
    static const char *keys[] = { "CapInh:", "CapPrm:", "CapEff:", "CapBnd:",
                                  "CapAmb:", "NoNewPrivs:", "Seccomp:" };
    char line[256];
    FILE *f = fopen("/proc/self/status", "re");
    printf("caps");
    if (!f) {
        printf(" %s\n", errname(errno));
        return;
    }
    while (fgets(line, sizeof line, f))
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            size_t n = strlen(keys[i]);
            if (strncmp(line, keys[i], n) == 0) {
                char *v = line + n;
                v += strspn(v, " \t");
                v[strcspn(v, "\n")] = '\0';
                printf(" %s%s", keys[i], v);
            }
        }
    fclose(f);
    printf("\n");
}

/* "uid R E S gid R E S groups G1,G2" ("groups -" when empty) */
static void print_uid(void)
{
    uid_t r, e, s;
    gid_t gr, ge, gs, g[256];
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    int n = getgroups(256, g);
    printf("uid %u %u %u gid %u %u %u groups ", r, e, s, gr, ge, gs);
    for (int i = 0; i < n; i++)
        printf("%s%u", i ? "," : "", g[i]);
    printf("%s\n", n > 0 ? "" : "-");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CHECK [CHECK...]\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *c = argv[i];
        const char *colon = strchr(c, ':');
        int e;
        if (strcmp(c, "fds") == 0) {
            print_fds();
        } else if (strcmp(c, "caps") == 0) {
            print_caps();
        } else if (strcmp(c, "uid") == 0) {
            print_uid();
        } else if (strcmp(c, "env") == 0) {
            for (char **ep = environ; *ep; ep++)
                printf("env %s\n", *ep);
        } else {
            if (colon) {
                char op[16];
                size_t n = (size_t)(colon - c);
                e = -1;
                if (n < sizeof op) {
                    memcpy(op, c, n);
                    op[n] = '\0';
                    e = path_check(op, colon + 1);
                }
            } else {
                e = syscall_check(c);
            }
            if (e < 0) {
                printf("%s unknown\n", c);
                fflush(stdout);
                return 2;
            }
            printf("%s %s\n", c, errname(e));
        }
        fflush(stdout);
    }
    return 0;
}
