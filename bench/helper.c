/*
 * Measuring helper for bench/run.mjs. One binary, two roles:
 *
 *  - as the CHILD an init runs (stamp, sleep, sigrecv, sigcount, orphans):
 *    it reads CLOCK_MONOTONIC as early as it can and reports over stdout;
 *  - as the RUNNER that starts an init and times it (time-run, launch,
 *    forward, storm): posix_spawn (no fork of a big parent), waitpid, and
 *    CLOCK_MONOTONIC, so nothing of Node's own start-up enters a figure.
 *
 * Every child-side mode that waits sets PR_SET_PDEATHSIG so it dies with its
 * init; every runner mode bounds every wait and kills its init on timeout.
 * Binary records on stdout are little-endian uint64 nanoseconds.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Taken by the first code that runs in the process image (before main). */
static uint64_t first_instruction_ns;
__attribute__((constructor(101))) static void stamp_first(void) { first_instruction_ns = now_ns(); }

static void die(const char *what) {
  fprintf(stderr, "bench-helper: %s: %s\n", what, strerror(errno));
  exit(70);
}

static void write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { if (errno == EINTR) continue; return; }
    p += w; n -= (size_t)w;
  }
}

static void sleep_us(long us) {
  struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* ------------------------------------------------------------------ child */

static volatile sig_atomic_t count;
static int report_each;

static void on_usr2(int sig) {
  (void)sig;
  uint64_t t = now_ns();
  count++;
  if (report_each) write_all(1, &t, 8);
}

static void on_term(int sig) {
  (void)sig;
  uint64_t n = (uint64_t)count;
  write_all(1, &n, 8);
  _exit(0);
}

static void die_with_parent(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/*
 * stamp [MS]: first-instruction time, then, MS milliseconds later (default 0),
 * the time just before _exit. Living a while lets the init finish its own
 * start-up first, so the exit figure is the init's exit path alone.
 */
static int child_stamp(long ms) {
  uint64_t t[2];
  t[0] = first_instruction_ns;
  if (ms > 0) sleep_us(ms * 1000);
  t[1] = now_ns();
  write_all(1, t, sizeof t);
  _exit(0);
}

/* sigrecv/sigcount: handler for SIGUSR2, report on SIGTERM, ready marker 0. */
static int child_signals(int each) {
  die_with_parent();
  report_each = each;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_usr2;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR2, &sa, NULL);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  uint64_t ready = 0;
  write_all(1, &ready, 8);
  for (;;) pause();
  return 0;
}

static int child_sleep(void) {
  die_with_parent();
  for (;;) pause();
  return 0;
}

/*
 * Processes in our PID namespace (numeric entries of its /proc), counting at
 * most `stop_after`. /proc lists pids in ascending order after its fixed
 * entries, so a small `stop_after` costs one small getdents, and unlike
 * /proc/1/task/1/children (quadratic, under tasklist_lock) it does not slow
 * down the exits and reaps it watches.
 */
static long count_procs(long stop_after) {
  static char buf[1 << 16];
  int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  long n = 0;
  for (;;) {
    long got = syscall(SYS_getdents64, fd, buf, stop_after < 64 ? 4096 : sizeof buf);
    if (got <= 0) break;
    for (long off = 0; off < got;) {
      struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d = (void *)(buf + off);
      if (d->name[0] >= '1' && d->name[0] <= '9') n++;
      off += d->reclen;
    }
    if (n >= stop_after) break;
  }
  close(fd);
  return n;
}

static int orphan_fd;

/* An orphan: blocks on the pipe, exits at EOF. Raw syscalls only (shares memory). */
static int orphan(void *arg) {
  (void)arg;
  char c;
  syscall(SYS_read, orphan_fd, &c, 1);
  syscall(SYS_exit, 0);
  return 0;
}

/* Number of processes in state Z in our PID namespace (reads every /proc/PID/stat). */
static long count_zombies(void) {
  DIR *d = opendir("/proc");
  if (d == NULL) return -1;
  long z = 0;
  struct dirent *e;
  char path[300], buf[512];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) continue;
    buf[r] = 0;
    char *paren = strrchr(buf, ')');
    if (paren && paren[1] == ' ' && paren[2] == 'Z') z++;
  }
  closedir(d);
  return z;
}

static int read_line(char *buf, size_t cap) {
  size_t i = 0;
  while (i + 1 < cap) {
    ssize_t r = read(0, buf + i, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    if (buf[i] == '\n') break;
    i++;
  }
  buf[i] = 0;
  return 0;
}

/*
 * orphans N: run inside a fresh PID namespace. A middle process creates N
 * processes blocked on a pipe and exits, so they become orphans of PID 1.
 * They are created with clone(CLONE_VM) (separate processes sharing one
 * address space): creating and tearing down 10,000 full address spaces takes
 * seconds on a small VM and would measure the kernel rather than the init.
 *
 * Under an init, with the runner (`helper reap`) on the other end of
 * stdin/stdout: we say "stop" and wait for "go" (the runner has stopped the
 * init with SIGSTOP from the parent namespace), close the pipe so all N exit
 * at once, wait until all N are zombies, say "cont" (the runner takes t0 and
 * sends SIGCONT), and print "t1 NS" once the namespace holds only PID 1 and
 * us (a zombie keeps its /proc entry until reaped). The init's own reap rate
 * is what is timed, not the kernel's exit rate or the scheduler's choices
 * among 10,000 runnable processes.
 *
 * As PID 1 itself (the floor: the smallest possible C reaper), the same
 * without a runner: all N zombies, then wait() until no child is left;
 * prints "reap_ns NS".
 */
static int child_orphans(long n) {
  int pid1 = getpid() == 1;
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) die("pipe");
  pid_t mid = fork();
  if (mid < 0) die("fork");
  if (mid == 0) {
    close(p[1]);
    orphan_fd = p[0];
    const size_t stack = 16384;
    char *stacks = mmap(NULL, stack * (size_t)n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (stacks == MAP_FAILED) _exit(71);
    for (long i = 0; i < n; i++) {
      if (clone(orphan, stacks + stack * (size_t)(i + 1), CLONE_VM | SIGCHLD, NULL) < 0) {
        fprintf(stderr, "bench-helper: clone %ld: %s\n", i, strerror(errno));
        _exit(71);
      }
    }
    _exit(0);
  }
  close(p[0]);
  int st;
  if (waitpid(mid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "bench-helper: the process creating orphans failed\n");
    return 71;
  }
  /* Wait until the namespace holds every orphan (plus PID 1 and us), then let them block. */
  long expect = n + (pid1 ? 1 : 2);
  uint64_t deadline = now_ns() + 60000000000ull;
  while (count_procs(n + 1000) < expect) {
    if (now_ns() > deadline) { fprintf(stderr, "bench-helper: orphans never all reached PID 1\n"); return 72; }
    sleep_us(1000);
  }
  sleep_us(200000);
  char line[64];
  if (!pid1) {
    printf("stop\n");
    fflush(stdout);
    if (read_line(line, sizeof line) < 0 || strcmp(line, "go") != 0) { fprintf(stderr, "bench-helper: no go from the runner\n"); return 74; }
  }
  close(p[1]);
  deadline = now_ns() + 60000000000ull;
  while (count_zombies() < n) {
    if (now_ns() > deadline) { fprintf(stderr, "bench-helper: orphans never all exited\n"); return 73; }
    sleep_us(5000);
  }
  if (pid1) {
    uint64_t t0 = now_ns();
    while (wait(NULL) > 0 || errno == EINTR) {}
    uint64_t t1 = now_ns();
    printf("reap_ns %llu\n", (unsigned long long)(t1 - t0));
    fflush(stdout);
    return 0;
  }
  printf("cont\n");
  fflush(stdout);
  deadline = now_ns() + 60000000000ull;
  while (count_procs(3) > 2) {
    if (now_ns() > deadline) { fprintf(stderr, "bench-helper: orphans never all reaped\n"); return 73; }
    sleep_us(1000);
  }
  uint64_t t1 = now_ns();
  printf("t1 %llu\n", (unsigned long long)t1);
  fflush(stdout);
  return 0;
}

/* ----------------------------------------------------------------- runner */

static pid_t current = 0;

static void on_runner_signal(int sig) {
  if (current > 0) kill(current, SIGKILL);
  _exit(128 + sig);
}

static void runner_guard(unsigned seconds) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_runner_signal;
  sigaction(SIGALRM, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  alarm(seconds);
  prctl(PR_SET_TIMERSLACK, 1);
}

/* Starts argv with stdin /dev/null, stdout `out` (or /dev/null), stderr inherited. */
static pid_t start(char **argv, int out) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out >= 0) posix_spawn_file_actions_adddup2(&fa, out, 1);
  else posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  int err = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (err != 0) { errno = err; die(argv[0]); }
  current = pid;
  return pid;
}

/* Reads exactly n bytes within timeout_ms; returns 0 on success, -1 on timeout/EOF. */
static int read_exact(int fd, void *buf, size_t n, int timeout_ms) {
  char *p = buf;
  uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
  while (n > 0) {
    int left = (int)((int64_t)(deadline - now_ns()) / 1000000);
    if ((int64_t)(deadline - now_ns()) <= 0) return -1;
    struct pollfd pf = { fd, POLLIN, 0 };
    int r = poll(&pf, 1, left > 0 ? left : 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    ssize_t got = read(fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    p += got; n -= (size_t)got;
  }
  return 0;
}

static int reap(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0) if (errno != EINTR) return -1;
  current = 0;
  return st;
}

static void stop(pid_t pid) {
  kill(pid, SIGTERM);
  /* Bounded: SIGKILL if the init has not gone after 5 s. */
  for (int i = 0; i < 500; i++) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) { current = 0; return; }
    sleep_us(10000);
  }
  kill(pid, SIGKILL);
  reap(pid);
}

/*
 * time-run N CMD...: N runs of CMD; per run one line "<wall ns> <cpu ns>",
 * cpu being user+system time of CMD and what it reaped (all its threads):
 * unlike wall time, it hardly moves when other work shares the CPUs.
 */
static int run_time(int n, char **cmd) {
  runner_guard(600);
  for (int i = 0; i < n; i++) {
    uint64_t t0 = now_ns();
    pid_t pid = start(cmd, -1);
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0) if (errno != EINTR) die("wait4");
    uint64_t t1 = now_ns();
    current = 0;
    if (st != 0) { fprintf(stderr, "bench-helper: %s exited with status 0x%x\n", cmd[0], st); return 1; }
    uint64_t cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
                   (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
    printf("%llu %llu\n", (unsigned long long)(t1 - t0), (unsigned long long)cpu);
  }
  return 0;
}

/*
 * launch N CMD...: CMD eventually runs `helper stamp`. Per run, one line:
 * "<exec → child's first instruction> <child's exit → init reaped>" in ns.
 */
static int run_launch(int n, char **cmd) {
  runner_guard(600);
  for (int i = 0; i < n; i++) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) die("pipe");
    uint64_t t0 = now_ns();
    pid_t pid = start(cmd, p[1]);
    close(p[1]);
    uint64_t t[2];
    int ok = read_exact(p[0], t, sizeof t, 20000);
    if (ok < 0) { kill(pid, SIGKILL); reap(pid); close(p[0]); fprintf(stderr, "bench-helper: no stamps from %s\n", cmd[0]); return 1; }
    int st = reap(pid);
    uint64_t t3 = now_ns();
    close(p[0]);
    if (st != 0) { fprintf(stderr, "bench-helper: %s exited with status 0x%x\n", cmd[0], st); return 1; }
    printf("%llu %llu\n", (unsigned long long)(t[0] - t0), (unsigned long long)(t3 - t[1]));
  }
  return 0;
}

/* Waits for the child's ready marker (8 zero bytes). */
static int wait_ready(int fd, pid_t pid, const char *what) {
  uint64_t m;
  if (read_exact(fd, &m, 8, 20000) < 0 || m != 0) {
    fprintf(stderr, "bench-helper: %s never became ready\n", what);
    kill(pid, SIGKILL);
    reap(pid);
    return -1;
  }
  return 0;
}

/*
 * forward N GAP_US CMD...: CMD eventually runs `helper sigrecv`. Sends SIGUSR2
 * to CMD's process N times, GAP_US apart; one line per signal: ns from kill()
 * to the child's handler, or "lost".
 */
static int run_forward(int n, long gap_us, char **cmd) {
  runner_guard(600);
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) die("pipe");
  pid_t pid = start(cmd, p[1]);
  close(p[1]);
  if (wait_ready(p[0], pid, cmd[0]) < 0) return 1;
  sleep_us(200000);
  for (int i = 0; i < n; i++) {
    uint64_t t0 = now_ns();
    kill(pid, SIGUSR2);
    uint64_t t1;
    if (read_exact(p[0], &t1, 8, 2000) < 0) printf("lost\n");
    else printf("%llu\n", (unsigned long long)(t1 - t0));
    sleep_us(gap_us);
  }
  stop(pid);
  close(p[0]);
  return 0;
}

/* VmRSS (kB) from /proc/PID/status and Private_Dirty (kB) from smaps_rollup. */
static void memory_of(pid_t pid, long *rss, long *pd) {
  char path[64], line[256];
  *rss = *pd = -1;
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "re");
  if (f) {
    while (fgets(line, sizeof line, f)) if (sscanf(line, "VmRSS: %ld", rss) == 1) break;
    fclose(f);
  }
  snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
  f = fopen(path, "re");
  if (f) {
    while (fgets(line, sizeof line, f)) if (sscanf(line, "Private_Dirty: %ld", pd) == 1) break;
    fclose(f);
  }
}

/*
 * storm N GAP_US CMD...: CMD eventually runs `helper sigcount`. Sends N
 * SIGUSR2 to CMD's process GAP_US apart; prints
 * "rss_before rss_after pd_before pd_after delivered" (kB, kB, kB, kB, count).
 */
static int run_storm(int n, long gap_us, char **cmd) {
  runner_guard(600);
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) die("pipe");
  pid_t pid = start(cmd, p[1]);
  close(p[1]);
  if (wait_ready(p[0], pid, cmd[0]) < 0) return 1;
  sleep_us(1000000);
  long rss0, pd0, rss1, pd1;
  memory_of(pid, &rss0, &pd0);
  for (int i = 0; i < n; i++) {
    kill(pid, SIGUSR2);
    if (gap_us > 0) sleep_us(gap_us);
  }
  sleep_us(500000);
  memory_of(pid, &rss1, &pd1);
  kill(pid, SIGTERM);
  uint64_t delivered = 0;
  if (read_exact(p[0], &delivered, 8, 5000) < 0) delivered = (uint64_t)-1;
  stop(pid);
  close(p[0]);
  printf("%ld %ld %ld %ld %lld\n", rss0, rss1, pd0, pd1, (long long)delivered);
  return 0;
}

/* Reads one line from a FILE with a deadline (the stream's fd is polled). */
static int read_line_from(FILE *f, char *buf, size_t cap, int timeout_ms) {
  struct pollfd pf = { fileno(f), POLLIN, 0 };
  for (;;) {
    if (f->_IO_read_ptr < f->_IO_read_end) break; /* already buffered */
    int r = poll(&pf, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    break;
  }
  if (fgets(buf, (int)cap, f) == NULL) return -1;
  buf[strcspn(buf, "\n")] = 0;
  return 0;
}

static char proc_state(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t r = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (r <= 0) return 0;
  buf[r] = 0;
  char *paren = strrchr(buf, ')');
  return paren && paren[1] == ' ' ? paren[2] : 0;
}

/*
 * reap CMD...: CMD is `unshare --pid --fork ... INIT... helper orphans N`.
 * Drives the protocol described at child_orphans; prints "reap_ns NS".
 */
static int run_reap(char **cmd) {
  runner_guard(240);
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) die("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  pid_t pid;
  int err = posix_spawnp(&pid, cmd[0], &fa, NULL, cmd, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) { errno = err; die(cmd[0]); }
  current = pid;
  close(in[0]);
  close(out[1]);
  FILE *from = fdopen(out[0], "r");
  char line[128];
  int rc = 1;
  if (read_line_from(from, line, sizeof line, 120000) < 0 || strcmp(line, "stop") != 0) {
    fprintf(stderr, "bench-helper: reap: expected stop, got %s\n", line);
    goto out;
  }
  /* The namespace's PID 1 (the init), seen from here: unshare's only child. */
  char path[64], buf[64];
  snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t r = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  if (r <= 0) { fprintf(stderr, "bench-helper: reap: cannot find the init\n"); goto out; }
  buf[r] = 0;
  pid_t init = (pid_t)atol(buf);
  kill(init, SIGSTOP);
  for (int i = 0; proc_state(init) != 'T'; i++) {
    if (i > 5000) { fprintf(stderr, "bench-helper: reap: the init did not stop\n"); goto out; }
    sleep_us(1000);
  }
  write_all(in[1], "go\n", 3);
  if (read_line_from(from, line, sizeof line, 120000) < 0 || strcmp(line, "cont") != 0) {
    fprintf(stderr, "bench-helper: reap: expected cont, got %s\n", line);
    goto out;
  }
  uint64_t t0 = now_ns();
  kill(init, SIGCONT);
  unsigned long long t1;
  if (read_line_from(from, line, sizeof line, 120000) < 0 || sscanf(line, "t1 %llu", &t1) != 1) {
    fprintf(stderr, "bench-helper: reap: expected t1, got %s\n", line);
    goto out;
  }
  printf("reap_ns %llu\n", t1 - (unsigned long long)t0);
  rc = 0;
out:
  close(in[1]);
  if (rc != 0) kill(pid, SIGKILL);
  /* Bounded wait for unshare (and so the namespace) to finish. */
  for (int i = 0; i < 3000; i++) {
    int st;
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) { current = 0; break; }
    if (i == 2000) kill(pid, SIGKILL);
    sleep_us(10000);
  }
  fclose(from);
  return rc;
}

static int usage(void) {
  fprintf(stderr,
    "usage: helper stamp [MS] | sleep | sigrecv | sigcount | orphans N\n"
    "       helper time-run N CMD... | launch N CMD... | forward N GAP_US CMD... | storm N GAP_US CMD...\n"
    "       helper reap unshare --pid --fork --mount-proc --kill-child INIT... helper orphans N\n");
  return 64;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  const char *m = argv[1];
  if (!strcmp(m, "stamp")) return child_stamp(argc > 2 ? atol(argv[2]) : 0);
  if (!strcmp(m, "sleep")) return child_sleep();
  if (!strcmp(m, "sigrecv")) return child_signals(1);
  if (!strcmp(m, "sigcount")) return child_signals(0);
  if (!strcmp(m, "orphans") && argc == 3) return child_orphans(atol(argv[2]));
  if (!strcmp(m, "time-run") && argc >= 4) return run_time(atoi(argv[2]), argv + 3);
  if (!strcmp(m, "launch") && argc >= 4) return run_launch(atoi(argv[2]), argv + 3);
  if (!strcmp(m, "forward") && argc >= 5) return run_forward(atoi(argv[2]), atol(argv[3]), argv + 4);
  if (!strcmp(m, "reap") && argc >= 3) return run_reap(argv + 2);
  if (!strcmp(m, "storm") && argc >= 5) return run_storm(atoi(argv[2]), atol(argv[3]), argv + 4);
  return usage();
}
