// tsinit's native core: only what JavaScript cannot do.
//
//   spawn        posix_spawnp with an exact child state (own process group,
//                terminal foreground, empty mask, every disposition default);
//                fork where an older libc's posix_spawn lacks a step
//   signals      uv_signal_t watchers on each environment's loop, plus a
//                siginfo-aware SIGPIPE handler that ignores the SIGPIPEs our
//                own writes raise
//   reaping      waitpid(-1) for the CLI, waitpid(pid) for owned children, and a
//                list of the pids libuv owns so a library reaper never steals
//   process      prctl (subreaper, parent-death signal), process groups, the tty
//   tryWrite     a write that never blocks, without O_NONBLOCK on a shared
//                file description (for the log: stderr is the child's too)
//   start-up     a handler that records signals, put in place by claimSignals
//                or, started by native/launch.c, before Node's main
//
// Layout: part 1 is plain C++ over the C library and libuv, one free function
// (or small class) per job, taking plain values and returning a result or a
// Failure (errno and the name of the call that failed); it knows nothing of
// N-API. Part 2 is the N-API binding table: each binding converts its
// arguments, calls part 1, converts the result and throws on a Failure.
//
// Who validates: the TypeScript modules that call the core (spawn options in
// src/supervise/spawn.ts and src/supervise/spawn-options.ts, signal numbers in
// src/signals.ts and src/core/signal-hub.ts, ...) validate and normalise every input; src/native.ts
// only loads the addon and describes it. This file trusts its arguments'
// types (the tests' build aborts on a wrong one: see binding.gyp) and checks
// only what a system call would otherwise get wrong: signal numbers outside
// 1..64 (watchSignal throws EINVAL, claimSignals answers -1), descriptors
// that are closed (left closed in the child, never dup2'd) and kept ones
// below 3 (ignored), limits above the hard limit (clamped to it), exitNow's
// status (& 0xff), more than 64 environments watching SIGPIPE at once
// (EBUSY). Every failing call
// is thrown as an Error carrying `code` (the errno name, where the C library
// can name it), `errno` and `syscall` (the call that really failed).

#include <napi.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <iterator>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

// Weak: the start-up constructor (RecordBeforeNode) tells by it whether the
// process it was preloaded into is Node (libuv's symbols are Node's exports).
#pragma weak uv_version

namespace {

#ifndef SYS_close_range
#define SYS_close_range 436  // the same number on every Linux architecture
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

constexpr int kMaxSignal = 64;

// =============================================================================
// Part 1: the core, plain C++
// =============================================================================

// A failed call: its errno and its name. `err` 0 is success.
struct Failure {
  int err = 0;
  const char* syscall = "";
  bool failed() const { return err != 0; }
};

Failure Ok() { return Failure{}; }
// The outcome of a call that returns an errno (0: success), as posix_spawn's do.
Failure Fail(int err, const char* syscall) { return Failure{err, syscall}; }
// The failure of a call that just returned -1 and set errno.
Failure FailErrno(const char* syscall) { return Failure{errno, syscall}; }

// ---- optional C library functions -------------------------------------------

// The libc extensions tsinit uses when present, looked up at run time so that
// one binary runs on every glibc from 2.28 on (and on musl): a newer glibc
// offers them (addchdir_np 2.29, strerrorname_np 2.32, addclosefrom_np 2.34,
// addtcsetpgrp_np 2.35); without one, Spawn and ThrowFailure take a fallback
// with the same guarantees. Binding them at link time would make the addon
// refuse to load on an older glibc.
struct OptionalLibc {
  int (*addtcsetpgrp_np)(posix_spawn_file_actions_t*, int) = nullptr;
  int (*addclosefrom_np)(posix_spawn_file_actions_t*, int) = nullptr;
  int (*addchdir_np)(posix_spawn_file_actions_t*, const char*) = nullptr;
  const char* (*strerrorname_np)(int) = nullptr;
};

template <typename Fn>
void LookUp(uv_lib_t* self, const char* name, Fn* fn) {
  void* sym = nullptr;
  if (uv_dlsym(self, name, &sym) == 0) *fn = reinterpret_cast<Fn>(sym);
}

OptionalLibc LookUpOptionalLibc() {
  OptionalLibc libc;
  // Internal, for tests only: TSINIT_NATIVE_NO_NP=1 at load time hides every
  // optional function, so the suite can run the fallbacks on a newer glibc.
  const char* off = getenv("TSINIT_NATIVE_NO_NP");
  if (off != nullptr && strcmp(off, "1") == 0) return libc;
  // The process's global symbols (dlopen(NULL) through libuv, which Node
  // exports): no dl* symbol version of our own to depend on.
  uv_lib_t self;
  if (uv_dlopen(nullptr, &self) != 0) {
    uv_dlclose(&self);
    return libc;
  }
  LookUp(&self, "posix_spawn_file_actions_addtcsetpgrp_np", &libc.addtcsetpgrp_np);
  LookUp(&self, "posix_spawn_file_actions_addclosefrom_np", &libc.addclosefrom_np);
  LookUp(&self, "posix_spawn_file_actions_addchdir_np", &libc.addchdir_np);
  LookUp(&self, "strerrorname_np", &libc.strerrorname_np);
  uv_dlclose(&self);  // the main program's handle: nothing is unloaded
  return libc;
}

// Looked up once per process, at the first addon load.
const OptionalLibc& Libc() {
  static const OptionalLibc libc = LookUpOptionalLibc();
  return libc;
}

// ---- descriptors ---------------------------------------------------------------

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

bool Contains(const std::vector<int>& v, int x) {
  for (int y : v) {
    if (y == x) return true;
  }
  return false;
}

// The descriptors >= 3 a child would inherit (no FD_CLOEXEC), read from
// /proc/self/fd; without /proc, every number below the soft RLIMIT_NOFILE
// is probed. Node and libuv open everything close-on-exec, so this finds
// only what tsinit itself inherited.
std::vector<int> InheritableFds() {
  std::vector<int> out;
  auto inheritable = [](int fd) {
    int flags = fcntl(fd, F_GETFD);
    return flags >= 0 && (flags & FD_CLOEXEC) == 0;
  };
  if (DIR* dir = opendir("/proc/self/fd")) {
    int own = dirfd(dir);
    while (struct dirent* entry = readdir(dir)) {
      if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
      int fd = atoi(entry->d_name);
      if (fd >= 3 && fd != own && inheritable(fd)) out.push_back(fd);
    }
    closedir(dir);
    return out;
  }
  struct rlimit rl;
  rlim_t limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
  if (limit > (1 << 20)) limit = 1 << 20;  // the kernel's default fs.nr_open
  for (int fd = 3; static_cast<rlim_t>(fd) < limit; fd++) {
    if (inheritable(fd)) out.push_back(fd);
  }
  return out;
}

// Clears close-on-exec on each descriptor (best effort: a closed one is skipped).
void ClearCloexec(const std::vector<int>& fds) {
  for (int fd : fds) {
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
}

// pipe2(O_CLOEXEC): spawn dup2s the child's end onto 0..2, which clears the
// flag there only.
Failure MakePipe(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? Ok() : FailErrno("pipe2"); }

// ---- spawn -----------------------------------------------------------------------

// The resources spawn can set in the child, in the order of its `limits` argument.
constexpr int kLimitResources[] = {RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_AS};
constexpr int kLimitCount = 3;

// What to start, as plain values. Byte strings are exact (no encoding).
struct SpawnRequest {
  std::string file;
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::string cwd;  // empty: the caller's
  bool pgroup = false;
  bool foreground = false;
  int stdio[3] = {-1, -1, -1};  // -1 (or, before Spawn, a closed descriptor): closed in the child
  std::vector<int> keep;        // descriptors > 2 inherited at the same number
  std::string pid_env;          // a variable set to the child's pid; empty: none
  double limits[kLimitCount] = {-1, -1, -1};  // soft limits; -1: inherited
};

// A NULL-terminated array of pointers into `v` (which must outlive it).
std::vector<char*> ToPointers(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(&s[0]);
  out.push_back(nullptr);
  return out;
}

// Sets every signal 1..64 in `set`, including glibc's internal 32 and 33 that
// sigaddset refuses: posix_spawn would otherwise leave them ignored in the child.
void FillAllSignals(sigset_t* set) {
  sigemptyset(set);
  auto* words = reinterpret_cast<unsigned long*>(set);
  constexpr int bits = 8 * sizeof(unsigned long);
  for (int sig = 1; sig <= kMaxSignal; sig++) {
    words[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
  }
}

// posix_spawn's attributes: own group if asked, every disposition default, an
// empty mask.
Failure SetSpawnAttributes(posix_spawnattr_t* attr, bool pgroup) {
  sigset_t all, none;
  FillAllSignals(&all);
  sigemptyset(&none);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (pgroup) flags |= POSIX_SPAWN_SETPGROUP;
  if (int err = posix_spawnattr_setflags(attr, flags)) return Fail(err, "posix_spawnattr_setflags");
  if (int err = posix_spawnattr_setsigdefault(attr, &all)) return Fail(err, "posix_spawnattr_setsigdefault");
  if (int err = posix_spawnattr_setsigmask(attr, &none)) return Fail(err, "posix_spawnattr_setsigmask");
  if (pgroup) {
    if (int err = posix_spawnattr_setpgroup(attr, 0)) return Fail(err, "posix_spawnattr_setpgroup");
  }
  return Ok();
}

// posix_spawn's file actions for the descriptors. `temps` receives the
// descriptors to close after the spawn.
Failure AddDescriptorActions(posix_spawn_file_actions_t* fa, const SpawnRequest& req, std::vector<int>* temps) {
  // Node marks 0..2 close-on-exec, and the kept descriptors too. A dup2
  // onto the number in the child clears the flag there only. dup2(fd, fd)
  // does that from glibc 2.29 on (a no-op before), so the child's copy is
  // dup2'd from a close-on-exec duplicate made here, closed after the spawn.
  auto inherit = [&](int src, int target) {
    if (src == target) {
      src = fcntl(src, F_DUPFD_CLOEXEC, 3);
      if (src < 0) return FailErrno("fcntl");
      temps->push_back(src);
    }
    return Fail(posix_spawn_file_actions_adddup2(fa, src, target), "posix_spawn_file_actions_adddup2");
  };
  for (int target = 0; target < 3; target++) {
    if (req.stdio[target] < 0) continue;  // stays closed
    Failure f = inherit(req.stdio[target], target);
    if (f.failed()) return f;
  }
  int top = 2;
  for (int fd : req.keep) {
    Failure f = inherit(fd, fd);
    if (f.failed()) return f;
    if (fd > top) top = fd;
  }
  // Nothing else is inherited: descriptors >= 3 are closed (above the last
  // kept one as a range when libc can; below it, and everywhere when it
  // cannot, those of the caller without close-on-exec).
  const OptionalLibc& libc = Libc();
  bool by_range = libc.addclosefrom_np != nullptr;
  if (by_range) {
    if (int err = libc.addclosefrom_np(fa, top + 1)) return Fail(err, "posix_spawn_file_actions_addclosefrom_np");
  }
  if (!by_range || top > 2) {
    for (int fd : InheritableFds()) {
      if (Contains(req.keep, fd) || (by_range && fd > top)) continue;
      if (int err = posix_spawn_file_actions_addclose(fa, fd)) return Fail(err, "posix_spawn_file_actions_addclose");
    }
  }
  return Ok();
}

// posix_spawnp with every step inside it (Spawn sends a cwd or foreground here
// only when this libc has the file action for it).
Failure SpawnPosix(const SpawnRequest& req, char** argv, char** envp, pid_t* pid) {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t fa;
  if (int err = posix_spawnattr_init(&attr)) return Fail(err, "posix_spawnattr_init");
  if (int err = posix_spawn_file_actions_init(&fa)) {
    posix_spawnattr_destroy(&attr);
    return Fail(err, "posix_spawn_file_actions_init");
  }
  std::vector<int> temps;
  Failure f = SetSpawnAttributes(&attr, req.pgroup);
  if (!f.failed()) f = AddDescriptorActions(&fa, req, &temps);
  const OptionalLibc& libc = Libc();
  if (!f.failed() && !req.cwd.empty()) {
    if (int err = libc.addchdir_np(&fa, req.cwd.c_str())) f = Fail(err, "posix_spawn_file_actions_addchdir_np");
  }
  if (!f.failed() && req.foreground) {
    if (int err = libc.addtcsetpgrp_np(&fa, 0)) f = Fail(err, "posix_spawn_file_actions_addtcsetpgrp_np");
  }
  if (!f.failed()) {
    // The child's own failures (exec, a file action) come back as posix_spawnp's.
    if (int err = posix_spawnp(pid, req.file.c_str(), &fa, &attr, argv, envp)) f = Fail(err, "posix_spawnp");
  }
  for (int tmp : temps) close(tmp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return f;
}

// The steps of the fork path's child, by the index it reports.
enum ForkStep { kSetpgid, kDup2, kSetFd, kTcsetpgrp, kChdir, kGetrlimit, kSetrlimit, kExecvpe };
const char* const kForkStepNames[] = {"setpgid", "dup2", "fcntl", "tcsetpgrp", "chdir", "getrlimit", "setrlimit", "execvpe"};
static_assert(sizeof kForkStepNames / sizeof kForkStepNames[0] == kExecvpe + 1, "a name for every step");

// What the fork path's child sends back through its pipe when a step fails.
struct ForkReport {
  int err;
  int step;
};

// Writes "<pid>" after the '=' of `slot` ("NAME=" and room for the digits).
// Async-signal-safe: the fork path's child calls it before exec.
void WritePid(char* slot, pid_t pid) {
  char* p = slot;
  while (*p != '=') p++;
  p++;
  char digits[24];
  int n = 0;
  unsigned long v = static_cast<unsigned long>(pid);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && n < 23);
  while (n > 0) *p++ = digits[--n];
  *p = '\0';
}

// Every disposition default, through the raw system call: glibc's sigaction
// refuses its internal signals 32 and 33, which may have been inherited
// ignored. A zeroed kernel sigaction (the largest layout, x86-64's) is
// SIG_DFL, no flags, an empty mask. Async-signal-safe.
void ResetAllDispositions() {
  unsigned long dfl[4] = {0, 0, 0, 0};
  struct sigaction fallback = {};  // SIG_DFL (0), no flags, an empty mask
  for (int sig = 1; sig <= kMaxSignal; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (syscall(SYS_rt_sigaction, sig, dfl, nullptr, kMaxSignal / 8) != 0) sigaction(sig, &fallback, nullptr);
  }
}

// The fork path's child, between fork and exec: async-signal-safe calls only.
// Returns only on failure, with the step that failed (errno set).
ForkStep RunForkChild(const SpawnRequest& req, char** argv, char** envp, const std::vector<int>& leaks, int report_fd) {
  ResetAllDispositions();
  if (req.pgroup && setpgid(0, 0) != 0) return kSetpgid;
  for (int target = 0; target < 3; target++) {
    int src = req.stdio[target];
    if (src < 0) continue;  // stays closed
    if (src == target) {
      if (fcntl(target, F_SETFD, 0) != 0) return kSetFd;
    } else if (dup2(src, target) < 0) {
      return kDup2;
    }
  }
  // SIGTTOU is still blocked: a background group may take the terminal.
  if (req.foreground && tcsetpgrp(0, getpgrp()) != 0) return kTcsetpgrp;
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {  // a kernel < 5.11
    for (int fd : leaks) {
      if (fd != report_fd && !Contains(req.keep, fd)) close(fd);
    }
  }
  // The kept descriptors stay open across exec, at the same number.
  for (int fd : req.keep) {
    if (fcntl(fd, F_SETFD, 0) != 0) return kSetFd;
  }
  if (!req.cwd.empty() && chdir(req.cwd.c_str()) != 0) return kChdir;
  for (int i = 0; i < kLimitCount; i++) {
    if (req.limits[i] < 0) continue;
    struct rlimit rl;
    if (getrlimit(kLimitResources[i], &rl) != 0) return kGetrlimit;
    rlim_t soft = static_cast<rlim_t>(req.limits[i]);
    rl.rlim_cur = soft < rl.rlim_max ? soft : rl.rlim_max;
    if (setrlimit(kLimitResources[i], &rl) != 0) return kSetrlimit;
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execvpe(req.file.c_str(), argv, envp);
  return kExecvpe;
}

// The fork path, for what this libc's posix_spawn cannot do: make the child
// the terminal's foreground group (glibc < 2.35, musl), change its
// directory (glibc < 2.29), give it an environment variable holding its
// own pid (known only once it exists), or give it other soft resource
// limits. Signals stay blocked from before fork until the child's exec; a
// failed step travels back through a close-on-exec pipe as a ForkReport.
// `pid_slot`: the envp entry "NAME=" with room for the digits, or null.
Failure SpawnFork(const SpawnRequest& req, char** argv, char** envp, char* pid_slot, pid_t* pid) {
  std::vector<int> leaks = InheritableFds();  // for a kernel without close_range (< 5.11)
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return FailErrno("pipe2");
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);  // this thread's mask on Linux
  pid_t child = fork();
  if (child == 0) {
    if (pid_slot != nullptr) WritePid(pid_slot, getpid());
    ForkStep step = RunForkChild(req, argv, envp, leaks, report[1]);
    ForkReport r = {errno, step};
    ssize_t ignored = write(report[1], &r, sizeof r);
    (void)ignored;
    _exit(127);
  }
  int fork_err = child < 0 ? errno : 0;
  sigprocmask(SIG_SETMASK, &old, nullptr);
  close(report[1]);
  if (fork_err != 0) {
    close(report[0]);
    return Fail(fork_err, "fork");
  }
  ForkReport r = {0, 0};
  ssize_t n;
  do {
    n = read(report[0], &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == sizeof r) {
    int st;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
    return Fail(r.err, kForkStepNames[r.step]);
  }
  *pid = child;
  return Ok();
}

// Starts req.file (searched in PATH): posix_spawn when libc can do every step
// inside it, else fork. The descriptors given that are closed stay closed.
Failure Spawn(SpawnRequest& req, pid_t* pid) {
  for (int& fd : req.stdio) {
    if (fd >= 0 && !IsOpen(fd)) fd = -1;
  }
  std::vector<int> keep;
  for (int fd : req.keep) {
    if (fd > 2 && IsOpen(fd)) keep.push_back(fd);
  }
  req.keep.swap(keep);
  std::vector<char*> argv = ToPointers(req.argv);
  std::vector<char*> envp = ToPointers(req.envp);
  // The slot the fork path fills with "NAME=<child pid>": room for any pid.
  std::string pid_slot;
  if (!req.pid_env.empty()) {
    pid_slot = req.pid_env + "=";
    pid_slot.append(24, '\0');
    envp.insert(envp.end() - 1, &pid_slot[0]);
  }
  bool any_limit = false;
  for (double limit : req.limits) any_limit = any_limit || limit >= 0;
  const OptionalLibc& libc = Libc();
  bool by_fork = (req.foreground && libc.addtcsetpgrp_np == nullptr) || (!req.cwd.empty() && libc.addchdir_np == nullptr) ||
                 !pid_slot.empty() || any_limit;
  return by_fork ? SpawnFork(req, argv.data(), envp.data(), pid_slot.empty() ? nullptr : &pid_slot[0], pid)
                 : SpawnPosix(req, argv.data(), envp.data(), pid);
}

// Replaces this process in place (same pid), with 0..2 and `keep` inherited.
// Returns only on failure.
Failure Execve(std::string& path, std::vector<std::string>& argv_s, std::vector<std::string>& envp_s,
               const std::vector<int>& keep) {
  std::vector<char*> argv = ToPointers(argv_s);
  std::vector<char*> envp = ToPointers(envp_s);
  ClearCloexec({0, 1, 2});
  ClearCloexec(keep);
  execve(path.c_str(), argv.data(), envp.data());
  return FailErrno("execve");
}

// ---- signals: start-up recording -----------------------------------------------

// Start-up signals: between Node's start and the signal watchers, a handler
// that only records which signals arrived (one bit each, lock-free, so
// async-signal-safe), for the CLI to hand on to the child once it runs.
std::atomic<uint64_t> g_recorded{0};

void OnRecord(int sig, siginfo_t*, void*) {
  if (sig >= 1 && sig <= kMaxSignal) g_recorded.fetch_or(uint64_t{1} << (sig - 1));
}

// A sigaction for `handler` (siginfo, restarting, every signal blocked while it runs).
struct sigaction HandlerAction(void (*handler)(int, siginfo_t*, void*)) {
  struct sigaction sa = {};
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&sa.sa_mask);
  return sa;
}

// Installs the recording handler on `signum` and says what was there before,
// read in the same sigaction call so nothing slips between: 0 default,
// 1 ignored, 2 a handler, 3 a one-shot handler (SA_RESETHAND, as Node installs
// for SIGINT and SIGTERM), -1 the C library refused (or not 1..64).
int ClaimSignal(int signum) {
  if (signum < 1 || signum > kMaxSignal) return -1;
  struct sigaction sa = HandlerAction(OnRecord);
  struct sigaction old = {};
  if (sigaction(signum, &sa, &old) != 0) return -1;
  if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL) return 0;
  if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN) return 1;
  return (old.sa_flags & SA_RESETHAND) ? 3 : 2;
}

// The signals recorded since the last call, ascending.
std::vector<int> TakeRecordedSignals() {
  uint64_t bits = g_recorded.exchange(0);
  std::vector<int> sigs;
  for (int sig = 1; sig <= kMaxSignal; sig++) {
    if (bits & (uint64_t{1} << (sig - 1))) sigs.push_back(sig);
  }
  return sigs;
}

// Started by native/launch.c (every signal blocked, this addon in LD_PRELOAD,
// __TSINIT_BLOCKED set to the caller's mask in hexadecimal), before Node's
// main: the recording handler on each signal the init forwards that is at
// its default disposition, then the caller's mask back, so that a signal
// that arrived while PID 1 became Node is recorded now instead of dropped.
// Node keeps these handlers (it resets only ignored signals) except on SIGINT
// and SIGTERM, where its own one-shot handler replaces them later; the init
// takes the recorded signals with takeRecordedSignals. Without the variable
// (a plain require) this does nothing. Before main there is one thread, so
// sigprocmask (pthread_sigmask would need glibc 2.32 in the prebuilds).
__attribute__((constructor)) void RecordBeforeNode() {
  const char* blocked = getenv("__TSINIT_BLOCKED");
  if (blocked == nullptr) return;
  // Not inside Node (no libuv of Node's: `node` in PATH is a wrapper, such
  // as a version manager's shim, that execs the real one): leave everything
  // as it is, blocked, for the Node it execs, which preloads this again.
  if (&uv_version == nullptr) return;
  // Loaded later than that (the preload failed, and this is a require after
  // Node's start cleared the mask): nothing to do.
  sigset_t now;
  if (sigprocmask(SIG_BLOCK, nullptr, &now) != 0 || sigismember(&now, SIGTERM) != 1 || sigismember(&now, SIGHUP) != 1) {
    unsetenv("__TSINIT_BLOCKED");
    return;
  }
  char* end = nullptr;
  errno = 0;
  unsigned long long caller = strtoull(blocked, &end, 16);
  bool known = *blocked != '\0' && *end == '\0' && errno == 0;
  // Never claimed: what the init never forwards (src/signals.ts: NOT_FORWARDED:
  // what cannot be caught, SIGCHLD, the synchronous faults, glibc's own 32 and
  // 33; musl refuses its 34 itself), and SIGPIPE, which Node ignores and the
  // bin's claimStartupSignals leaves out too. test/unit/signals.test.ts holds
  // this list to those: change them together.
  constexpr int kLibcOwnFirst = 32, kLibcOwnLast = 33;
  const int skipped[] = {SIGKILL, SIGSTOP, SIGCHLD, SIGPIPE, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
  sigset_t claimed;
  sigemptyset(&claimed);
  for (int sig = 1; sig <= kMaxSignal; sig++) {
    if (sig >= kLibcOwnFirst && sig <= kLibcOwnLast) continue;
    if (std::find(std::begin(skipped), std::end(skipped), sig) != std::end(skipped)) continue;
    struct sigaction old = {};
    if (sigaction(sig, nullptr, &old) != 0) continue;
    if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa = HandlerAction(OnRecord);
    if (sigaction(sig, &sa, nullptr) == 0) sigaddset(&claimed, sig);
  }
  unsetenv("__TSINIT_BLOCKED");
  if (!known) {
    sigprocmask(SIG_UNBLOCK, &claimed, nullptr);
    return;
  }
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig = 1; sig <= kMaxSignal; sig++) {
    if (caller & (1ULL << (sig - 1))) sigaddset(&mask, sig);  // refused for glibc's 32, 33: never blocked by it anyway
  }
  if (sigprocmask(SIG_SETMASK, &mask, nullptr) != 0) sigprocmask(SIG_UNBLOCK, &claimed, nullptr);
}

// ---- signals: SIGPIPE --------------------------------------------------------------

// libuv's handler cannot tell who sent a signal, and a SIGPIPE raised by
// tsinit's own write to a closed pipe must not be forwarded, so SIGPIPE has a
// handler of its own. The disposition is process-wide but each environment
// (the main thread, every worker that loads the addon) watches on its own
// loop: each has a PipeWatch, an async handle on that loop, listed in a slot
// here while it watches. The handler wakes every listed one (as libuv wakes
// every loop watching a signal). A watch leaves its slot before its handle is
// closed, and the closing thread first waits until no handler is between
// reading a slot and waking it, so the handler never touches a freed handle
// nor an environment that is gone (a worker's ends with it: see LoopSignals).
struct PipeWatch {
  uv_async_t async;
  std::atomic<uint32_t> pending{0};  // SIGPIPEs not yet delivered
};

constexpr int kMaxPipeWatches = 64;  // environments watching SIGPIPE at once
std::atomic<PipeWatch*> g_pipe_watches[kMaxPipeWatches];
std::atomic<int> g_pipe_handlers_running{0};
pthread_mutex_t g_pipe_lock = PTHREAD_MUTEX_INITIALIZER;
int g_pipe_watch_count = 0;  // slots taken; under g_pipe_lock

void OnSigpipe(int, siginfo_t* info, void*) {
  // The kernel's EPIPE SIGPIPE names the writer itself as sender.
  if (info != nullptr && info->si_code == SI_USER && info->si_pid == getpid()) return;
  int saved = errno;
  g_pipe_handlers_running.fetch_add(1);
  for (auto& slot : g_pipe_watches) {
    if (PipeWatch* w = slot.load()) {
      w->pending.fetch_add(1);
      uv_async_send(&w->async);  // async-signal-safe
    }
  }
  g_pipe_handlers_running.fetch_sub(1);
  errno = saved;
}

// Held while an environment changes the slots or the disposition (never by the handler).
struct PipeLock {
  PipeLock() { pthread_mutex_lock(&g_pipe_lock); }
  ~PipeLock() { pthread_mutex_unlock(&g_pipe_lock); }
};

// The slot holding `w` (nullptr: a free slot), or nullptr when there is none.
std::atomic<PipeWatch*>* SlotOf(PipeWatch* w) {
  for (auto& slot : g_pipe_watches) {
    if (slot.load() == w) return &slot;
  }
  return nullptr;
}

// Lists `w` and (re)installs the handler. EBUSY: every slot is taken.
Failure ListPipeWatch(PipeWatch* w) {
  PipeLock lock;
  if (SlotOf(w) == nullptr) {
    std::atomic<PipeWatch*>* slot = SlotOf(nullptr);
    if (slot == nullptr) return Fail(EBUSY, "sigaction");  // a limit of ours, named where the handler would go
    slot->store(w);
    g_pipe_watch_count++;
  }
  struct sigaction sa = HandlerAction(OnSigpipe);
  return sigaction(SIGPIPE, &sa, nullptr) == 0 ? Ok() : FailErrno("sigaction");
}

// Takes `w` off its slot; the last one out puts back the SIGPIPE Node expects
// (ignored). On return no handler can reach `w` any more.
void UnlistPipeWatch(PipeWatch* w) {
  {
    PipeLock lock;
    std::atomic<PipeWatch*>* slot = SlotOf(w);
    if (slot == nullptr) return;  // never listed: no handler knows it
    slot->store(nullptr);
    if (--g_pipe_watch_count == 0) signal(SIGPIPE, SIG_IGN);
  }
  // A handler that read the slot before it was cleared is a few instructions
  // from done (it may run on this very thread, and then has finished).
  while (g_pipe_handlers_running.load() != 0) sched_yield();
}

// ---- signals: watchers on one loop ---------------------------------------------

void SetRef(uv_handle_t* h, bool keep_alive) {
  if (keep_alive) {
    uv_ref(h);
  } else {
    uv_unref(h);
  }
}

// A watched signal must be deliverable to the loop's thread. Node may have
// blocked it there: with --disable-sigusr1 (Node >= 22.14) the main thread
// starts with SIGUSR1 blocked, so a SIGUSR1 sent during start-up stays
// pending instead of opening the inspector, and arrives here once unblocked.
void UnblockInThisThread(int signum) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signum);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);  // the calling thread's mask on Linux
}

// libuv's signal handler writes one 16-byte message per delivery into the
// loop's signal pipe and drops it when the pipe is full. Real-time signals
// queue in the kernel, so a burst while the loop is busy can overflow a
// small pipe (a root over pipe-user-pages-soft gets 2 pages). A larger
// pipe costs nothing until it fills.
void WidenSignalPipe(uv_loop_t* loop) {
  if (loop->signal_pipefd[1] < 0) return;
  // Best effort, largest first: unprivileged callers are capped by pipe-max-size.
  for (int size : {1 << 20, 1 << 18, 1 << 16}) {
    if (fcntl(loop->signal_pipefd[1], F_SETPIPE_SZ, size) >= 0) break;
  }
}

// The signals one environment watches on its loop; every delivery calls
// `deliver(arg, signum)` on the loop's thread. Used from that thread only.
// Its handles must all be closed before the loop is (a worker's loop is
// closed when the worker ends, and Node aborts the process if a handle is
// still open): CloseAll does that, and says when the last one is closed.
class LoopSignals {
 public:
  using Deliver = void (*)(void* arg, int signum);
  LoopSignals(uv_loop_t* loop, Deliver deliver, void* arg) : loop_(loop), deliver_(deliver), arg_(arg) {}

  // keep_alive=false lets the loop end while watching. EINVAL: not 1..64.
  Failure Watch(int signum, bool keep_alive) {
    if (signum == SIGPIPE) return WatchSigpipe(keep_alive);
    if (signum < 1 || signum > kMaxSignal) return Fail(EINVAL, "uv_signal_start");
    if (watchers_[signum] != nullptr) {
      SetRef(reinterpret_cast<uv_handle_t*>(watchers_[signum]), keep_alive);
      return Ok();
    }
    auto* w = new uv_signal_t();
    w->data = this;
    int rc = uv_signal_init(loop_, w);
    if (rc == 0) rc = uv_signal_start(w, OnUvSignal, signum);
    if (rc != 0) {
      Close(reinterpret_cast<uv_handle_t*>(w));
      return Fail(-rc, "uv_signal_start");
    }
    SetRef(reinterpret_cast<uv_handle_t*>(w), keep_alive);
    watchers_[signum] = w;
    if (!pipe_widened_) WidenSignalPipe(loop_);
    pipe_widened_ = true;
    UnblockInThisThread(signum);
    return Ok();
  }

  // The signal returns to the disposition Node expects: SIGPIPE ignored,
  // everything else default (libuv's behaviour on stop), once no environment
  // watches it any more.
  void Unwatch(int signum) {
    if (signum == SIGPIPE) {
      UnwatchSigpipe();
      return;
    }
    if (signum < 1 || signum > kMaxSignal || watchers_[signum] == nullptr) return;
    uv_signal_stop(watchers_[signum]);
    Close(reinterpret_cast<uv_handle_t*>(watchers_[signum]));
    watchers_[signum] = nullptr;
  }

  // Unwatches everything; `done(arg)` runs once every handle is closed
  // (maybe before this returns).
  void CloseAll(void (*done)(void*), void* arg) {
    done_ = done;
    done_arg_ = arg;
    for (int signum = 1; signum <= kMaxSignal; signum++) Unwatch(signum);
    closing_++;  // this call's own hold, so `done` runs once
    Closed();
  }

 private:
  Failure WatchSigpipe(bool keep_alive) {
    if (pipe_ == nullptr) {
      pipe_ = new PipeWatch();
      pipe_->async.data = this;
      uv_async_init(loop_, &pipe_->async, OnPipeAsync);
    }
    SetRef(reinterpret_cast<uv_handle_t*>(&pipe_->async), keep_alive);
    return ListPipeWatch(pipe_);
  }

  void UnwatchSigpipe() {
    if (pipe_ == nullptr) return;
    UnlistPipeWatch(pipe_);
    Close(reinterpret_cast<uv_handle_t*>(&pipe_->async));
    pipe_ = nullptr;
  }

  // Every handle's data is its LoopSignals.
  static void OnUvSignal(uv_signal_t* handle, int signum) {
    auto* self = static_cast<LoopSignals*>(handle->data);
    self->deliver_(self->arg_, signum);
  }

  // The async handle sits first in its PipeWatch: the handle's address is the watch's.
  static void OnPipeAsync(uv_async_t* handle) {
    auto* self = static_cast<LoopSignals*>(handle->data);
    uint32_t n = reinterpret_cast<PipeWatch*>(handle)->pending.exchange(0);
    while (n-- > 0) self->deliver_(self->arg_, SIGPIPE);
  }

  // The close callback frees the handle by kind.
  void Close(uv_handle_t* h) {
    closing_++;
    uv_close(h, [](uv_handle_t* handle) {
      auto* self = static_cast<LoopSignals*>(handle->data);
      if (handle->type == UV_ASYNC) {
        delete reinterpret_cast<PipeWatch*>(handle);
      } else {
        delete reinterpret_cast<uv_signal_t*>(handle);
      }
      self->Closed();
    });
  }

  void Closed() {
    if (--closing_ == 0 && done_ != nullptr) {
      void (*done)(void*) = done_;
      done_ = nullptr;
      done(done_arg_);
    }
  }

  uv_loop_t* loop_;
  Deliver deliver_;
  void* arg_;
  // By signal number. A plain table: gcc 12's std::unordered_map would need
  // GLIBCXX_3.4.29 (std::__throw_bad_array_new_length), above Node 20's floor.
  uv_signal_t* watchers_[kMaxSignal + 1] = {};
  PipeWatch* pipe_ = nullptr;
  bool pipe_widened_ = false;
  int closing_ = 0;  // handles whose close has not completed
  void (*done_)(void*) = nullptr;
  void* done_arg_ = nullptr;
};

// ---- reaping -------------------------------------------------------------------------

// One wait status: kind 0 exited (value = code), 1 killed (value = signal),
// 2 stopped (value = signal), 3 continued (value = SIGCONT).
struct WaitEvent {
  pid_t pid;
  int kind;
  int value;
};

WaitEvent Decode(pid_t pid, int st) {
  if (WIFEXITED(st)) return {pid, 0, WEXITSTATUS(st)};
  if (WIFSIGNALED(st)) return {pid, 1, WTERMSIG(st)};
  if (WIFSTOPPED(st)) return {pid, 2, WSTOPSIG(st)};
  return {pid, 3, SIGCONT};
}

// waitpid(-1) until nothing is ready, stops and continues included; false
// when no child is left at all (ECHILD). Only for a process that owns every
// child (the CLI): it would steal the statuses of libuv's children.
bool ReapAny(std::vector<WaitEvent>* events) {
  for (;;) {
    int st = 0;
    pid_t pid = waitpid(-1, &st, WNOHANG | WUNTRACED | WCONTINUED);
    if (pid > 0) {
      events->push_back(Decode(pid, st));
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    return pid == 0;  // < 0: ECHILD
  }
}

// waitpid(pid, WNOHANG): 1 with *event set, 0 still running, -1 not our child.
int ReapPid(pid_t pid, bool with_stops, WaitEvent* event) {
  int st = 0;
  pid_t r;
  do {
    r = waitpid(pid, &st, WNOHANG | (with_stops ? (WUNTRACED | WCONTINUED) : 0));
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return r;
  *event = Decode(r, st);
  return 1;
}

// The pids of the children libuv spawned (child_process) on `loop`.
std::vector<int> LibuvChildPids(uv_loop_t* loop) {
  std::vector<int> pids;
  uv_walk(
      loop,
      [](uv_handle_t* h, void* arg) {
        if (h->type == UV_PROCESS) {
          int pid = uv_process_get_pid(reinterpret_cast<uv_process_t*>(h));
          if (pid > 0) static_cast<std::vector<int>*>(arg)->push_back(pid);
        }
      },
      &pids);
  return pids;
}

// ---- process -----------------------------------------------------------------------

Failure SetSubreaper(bool on) {
  return prctl(PR_SET_CHILD_SUBREAPER, on ? 1UL : 0UL, 0, 0, 0) == 0 ? Ok() : FailErrno("prctl(PR_SET_CHILD_SUBREAPER)");
}

bool IsSubreaper() {
  int on = 0;
  prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0);
  return on != 0;
}

// *parent_alive: false when the parent was already gone (getppid() no longer
// `expected`): the caller treats that as the signal having arrived, closing
// the race between start-up and prctl.
Failure SetPdeathsig(int signum, pid_t expected, bool* parent_alive) {
  if (prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(signum), 0, 0, 0) != 0) return FailErrno("prctl(PR_SET_PDEATHSIG)");
  *parent_alive = getppid() == expected;
  return Ok();
}

Failure Getpgid(pid_t pid, pid_t* pgid) {
  *pgid = getpgid(pid);
  return *pgid >= 0 ? Ok() : FailErrno("getpgid");
}

// true when done. SIGTTOU is blocked on this thread around the call: a
// background caller would otherwise be stopped by it.
bool SetForeground(int fd, pid_t pgid) {
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  sigprocmask(SIG_BLOCK, &ttou, &old);  // this thread's mask on Linux
  int rc = tcsetpgrp(fd, pgid);
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return rc == 0;
}

// 0 or the errno (ESRCH is routine for an init).
int Kill(pid_t pid, int signum) { return kill(pid, signum) == 0 ? 0 : errno; }

// ---- a write that never blocks ----------------------------------------------------

// Writes what fits now, never blocking and never changing fd's file status
// flags (the description is shared with the child). Returns the bytes written
// (maybe fewer than asked) or -errno (-EAGAIN: it would have blocked; EINTR is
// reported as EAGAIN):
//   socket      send(MSG_DONTWAIT | MSG_NOSIGNAL)
//   FIFO/pipe   through the relay pipe with splice(SPLICE_F_NONBLOCK)
//   other       poll(POLLOUT, 0), then write (a tty, a regular file, a
//               character device)
// Pipes and others get at most PIPE_BUF bytes per call: a line that short
// fits in the room poll or splice saw.
class NonBlockingWriter {
 public:
  ssize_t Write(int fd, const uint8_t* data, size_t len) {
    if (len == 0) return 0;
    ssize_t n = send(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno != ENOTSOCK) return Failed();
    if (len > PIPE_BUF) len = PIPE_BUF;
    // A pipe or FIFO is what F_GETPIPE_SZ accepts (fstat would bind the addon
    // to glibc 2.33's fstat64).
    if (fcntl(fd, F_GETPIPE_SZ) > 0) {
      ssize_t r = Splice(fd, data, len);
      if (r != -ENOSYS) return r;
    }
    struct pollfd p = {fd, POLLOUT, 0};
    int ready = poll(&p, 1, 0);
    if (ready < 0) return Failed();
    if (ready == 0) return -EAGAIN;
    if (p.revents & POLLNVAL) return -EBADF;
    n = write(fd, data, len);
    return n >= 0 ? n : Failed();
  }

 private:
  static ssize_t Failed() { return errno == EINTR || errno == EWOULDBLOCK ? -EAGAIN : -errno; }

  // The FIFO path; -ENOSYS when the relay cannot be used (the caller then
  // falls back to poll and write).
  ssize_t Splice(int fd, const uint8_t* data, size_t len) {
    if (relay_[0] == -2) return -ENOSYS;
    if (relay_[0] == -1 && pipe2(relay_, O_NONBLOCK | O_CLOEXEC) != 0) {
      relay_[0] = relay_[1] = -2;
      return -ENOSYS;
    }
    ssize_t in = write(relay_[1], data, len);  // the relay is empty: PIPE_BUF fits
    if (in <= 0) return -ENOSYS;
    ssize_t out = splice(relay_[0], nullptr, fd, nullptr, static_cast<size_t>(in), SPLICE_F_NONBLOCK);
    int err = errno;
    if (out < in) {
      uint8_t sink[PIPE_BUF];
      while (read(relay_[0], sink, sizeof sink) > 0) {
      }  // what did not go out is dropped, not sent later
    }
    if (out >= 0) return out;
    if (err == EINVAL || err == ENOSYS) {
      close(relay_[0]);
      close(relay_[1]);
      relay_[0] = relay_[1] = -2;
      return -ENOSYS;
    }
    errno = err;
    return Failed();
  }

  // A private pipe, both ends O_NONBLOCK (a description only tsinit has), that
  // relays writes to a FIFO: splice(SPLICE_F_NONBLOCK) from it into the FIFO
  // fails with EAGAIN instead of waiting for room, checked under the FIFO's
  // lock, so a writer sharing the FIFO (the child) cannot take the room
  // between a check and the write. -1: not made yet; -2: unusable.
  int relay_[2] = {-1, -1};
};

// =============================================================================
// Part 2: the N-API binding table
// =============================================================================

// ---- conversions ---------------------------------------------------------------------

int ToInt(const Napi::Value& v) { return v.As<Napi::Number>().Int32Value(); }
bool ToBool(const Napi::Value& v) { return v.As<Napi::Boolean>(); }

// A Buffer's bytes as they are, or a string's UTF-8.
std::string ToBytes(const Napi::Value& v) {
  if (v.IsBuffer()) {
    Napi::Buffer<char> b = v.As<Napi::Buffer<char>>();
    return std::string(b.Data(), b.Length());
  }
  return v.As<Napi::String>().Utf8Value();
}

std::vector<std::string> ToByteStrings(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(ToBytes(a.Get(i)));
  return out;
}

// An array of numbers; anything else (an absent optional argument) is empty.
std::vector<int> ToInts(const Napi::Value& v) {
  std::vector<int> out;
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) out.push_back(ToInt(a.Get(i)));
  return out;
}

Napi::Array FromInts(Napi::Env env, const std::vector<int>& v) {
  Napi::Array arr = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(env, v[i]));
  return arr;
}

// Throws `f` as an Error: message "<syscall> failed: <strerror> (<detail>)",
// `code` the errno name (without strerrorname_np, src/native.ts derives it
// from `errno`), `errno`, `syscall`. Returns undefined, for the binding to return.
Napi::Value ThrowFailure(Napi::Env env, Failure f, const std::string& detail = "") {
  std::string msg = std::string(f.syscall) + " failed: " + strerror(f.err);
  if (!detail.empty()) msg += " (" + detail + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  if (Libc().strerrorname_np != nullptr) {
    if (const char* name = Libc().strerrorname_np(f.err)) e.Set("code", Napi::String::New(env, name));
  }
  e.Set("errno", Napi::Number::New(env, f.err));
  e.Set("syscall", Napi::String::New(env, f.syscall));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// ---- the addon --------------------------------------------------------------------

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    napi_get_uv_event_loop(env, &loop_);
    Libc();  // the environment switch is read now, at load
    signals_ = new LoopSignals(loop_, Deliver, this);
    // The environment's end (a worker's, or the main thread's) closes the
    // signal handles before Node closes the loop.
    napi_add_async_cleanup_hook(env, CloseSignals, this, nullptr);
    DefineAddon(exports, {
        InstanceMethod("spawn", &Addon::SpawnBinding),
        InstanceMethod("setSignalHandler", &Addon::SetSignalHandlerBinding),
        InstanceMethod("watchSignal", &Addon::WatchSignalBinding),
        InstanceMethod("unwatchSignal", &Addon::UnwatchSignalBinding),
        InstanceMethod("reapAny", &Addon::ReapAnyBinding),
        InstanceMethod("reapPid", &Addon::ReapPidBinding),
        InstanceMethod("libuvChildPids", &Addon::LibuvChildPidsBinding),
        InstanceMethod("setSubreaper", &Addon::SetSubreaperBinding),
        InstanceMethod("isSubreaper", &Addon::IsSubreaperBinding),
        InstanceMethod("setPdeathsig", &Addon::SetPdeathsigBinding),
        InstanceMethod("getpgid", &Addon::GetpgidBinding),
        InstanceMethod("tcgetpgrp", &Addon::TcgetpgrpBinding),
        InstanceMethod("tcsetpgrp", &Addon::TcsetpgrpBinding),
        InstanceMethod("kill", &Addon::KillBinding),
        InstanceMethod("execve", &Addon::ExecveBinding),
        InstanceMethod("exitNow", &Addon::ExitNowBinding),
        InstanceMethod("pipe", &Addon::PipeBinding),
        InstanceMethod("tryWrite", &Addon::TryWriteBinding),
        InstanceMethod("claimSignals", &Addon::ClaimSignalsBinding),
        InstanceMethod("takeRecordedSignals", &Addon::TakeRecordedSignalsBinding),
    });
  }

 private:
  // spawn(file, argv, envp, cwd|null, pgroup, foreground, [fd0, fd1, fd2], keep, pidEnv|null, [nofile, nproc, as]?) -> pid
  // See SpawnRequest; keep and limits may be absent.
  Napi::Value SpawnBinding(const Napi::CallbackInfo& info) {
    SpawnRequest req;
    req.file = ToBytes(info[0]);
    req.argv = ToByteStrings(info[1]);
    req.envp = ToByteStrings(info[2]);
    if (info[3].IsString() || info[3].IsBuffer()) req.cwd = ToBytes(info[3]);
    req.pgroup = ToBool(info[4]);
    req.foreground = ToBool(info[5]);
    Napi::Array stdio = info[6].As<Napi::Array>();
    for (uint32_t i = 0; i < 3; i++) req.stdio[i] = ToInt(stdio.Get(i));
    req.keep = ToInts(info[7]);
    if (info[8].IsString()) req.pid_env = info[8].As<Napi::String>().Utf8Value();
    if (info[9].IsArray()) {
      Napi::Array a = info[9].As<Napi::Array>();
      for (uint32_t i = 0; i < kLimitCount && i < a.Length(); i++) req.limits[i] = a.Get(i).As<Napi::Number>().DoubleValue();
    }
    pid_t pid = -1;
    Failure f = Spawn(req, &pid);
    if (f.failed()) return ThrowFailure(info.Env(), f, strcmp(f.syscall, "chdir") == 0 ? req.cwd : req.file);
    return Napi::Number::New(info.Env(), pid);
  }

  // setSignalHandler(fn): fn(signum) runs on the loop's thread for every watched signal.
  Napi::Value SetSignalHandlerBinding(const Napi::CallbackInfo& info) {
    on_signal_ = Napi::Persistent(info[0].As<Napi::Function>());
    return info.Env().Undefined();
  }

  // watchSignal(signum, keepAlive): keepAlive=false lets the process exit while watching.
  Napi::Value WatchSignalBinding(const Napi::CallbackInfo& info) {
    int signum = ToInt(info[0]);
    Failure f = signals_->Watch(signum, ToBool(info[1]));
    if (f.failed()) return ThrowFailure(info.Env(), f, signum == SIGPIPE ? "SIGPIPE" : "signal " + std::to_string(signum));
    return info.Env().Undefined();
  }

  // unwatchSignal(signum)
  Napi::Value UnwatchSignalBinding(const Napi::CallbackInfo& info) {
    signals_->Unwatch(ToInt(info[0]));
    return info.Env().Undefined();
  }

  // reapAny() -> { events: [pid, kind, value, ...], more: boolean }
  Napi::Value ReapAnyBinding(const Napi::CallbackInfo& info) {
    std::vector<WaitEvent> events;
    bool more = ReapAny(&events);
    std::vector<int> flat;
    for (const WaitEvent& e : events) flat.insert(flat.end(), {e.pid, e.kind, e.value});
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("events", FromInts(info.Env(), flat));
    out.Set("more", Napi::Boolean::New(info.Env(), more));
    return out;
  }

  // reapPid(pid, withStops) -> [kind, value] | null (still running) | undefined (not our child)
  Napi::Value ReapPidBinding(const Napi::CallbackInfo& info) {
    WaitEvent e;
    int r = ReapPid(ToInt(info[0]), ToBool(info[1]), &e);
    if (r == 0) return info.Env().Null();
    if (r < 0) return info.Env().Undefined();
    return FromInts(info.Env(), {e.kind, e.value});
  }

  // libuvChildPids() -> [pid, ...]
  Napi::Value LibuvChildPidsBinding(const Napi::CallbackInfo& info) { return FromInts(info.Env(), LibuvChildPids(loop_)); }

  // setSubreaper(on)
  Napi::Value SetSubreaperBinding(const Napi::CallbackInfo& info) {
    Failure f = SetSubreaper(ToBool(info[0]));
    return f.failed() ? ThrowFailure(info.Env(), f) : info.Env().Undefined();
  }

  // isSubreaper() -> boolean
  Napi::Value IsSubreaperBinding(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), IsSubreaper()); }

  // setPdeathsig(signum, expectedParent) -> false when the parent was already gone
  Napi::Value SetPdeathsigBinding(const Napi::CallbackInfo& info) {
    bool parent_alive = false;
    Failure f = SetPdeathsig(ToInt(info[0]), ToInt(info[1]), &parent_alive);
    return f.failed() ? ThrowFailure(info.Env(), f) : Napi::Boolean::New(info.Env(), parent_alive);
  }

  // getpgid(pid) -> pgid
  Napi::Value GetpgidBinding(const Napi::CallbackInfo& info) {
    pid_t pgid = -1;
    Failure f = Getpgid(ToInt(info[0]), &pgid);
    return f.failed() ? ThrowFailure(info.Env(), f) : Napi::Number::New(info.Env(), pgid);
  }

  // tcgetpgrp(fd) -> pgid, or -1 when fd is not a terminal.
  Napi::Value TcgetpgrpBinding(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), tcgetpgrp(ToInt(info[0]))); }

  // tcsetpgrp(fd, pgid) -> boolean
  Napi::Value TcsetpgrpBinding(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), SetForeground(ToInt(info[0]), ToInt(info[1])));
  }

  // kill(pid, signum) -> 0 or the errno
  Napi::Value KillBinding(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), Kill(ToInt(info[0]), ToInt(info[1]))); }

  // execve(path, argv, envp, keep?): returns only on failure (it throws).
  Napi::Value ExecveBinding(const Napi::CallbackInfo& info) {
    std::string path = ToBytes(info[0]);
    std::vector<std::string> argv = ToByteStrings(info[1]);
    std::vector<std::string> envp = ToByteStrings(info[2]);
    return ThrowFailure(info.Env(), Execve(path, argv, envp, ToInts(info[3])), path);
  }

  // exitNow(status): ends the process at once with _exit(status & 0xff). For
  // the CLI, whose every write is synchronous: nothing is left to flush, and
  // Node's teardown (exit handlers, V8 and its platform threads) would add
  // tens of ms between the child's exit and the init's, which an orchestrator
  // waits out.
  Napi::Value ExitNowBinding(const Napi::CallbackInfo& info) { _exit(ToInt(info[0]) & 0xff); }

  // pipe() -> [readFd, writeFd], both close-on-exec
  Napi::Value PipeBinding(const Napi::CallbackInfo& info) {
    int fds[2];
    Failure f = MakePipe(fds);
    return f.failed() ? ThrowFailure(info.Env(), f) : FromInts(info.Env(), {fds[0], fds[1]});
  }

  // tryWrite(fd, buffer) -> bytes written or -errno (see NonBlockingWriter)
  Napi::Value TryWriteBinding(const Napi::CallbackInfo& info) {
    Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
    ssize_t n = writer_.Write(ToInt(info[0]), buf.Data(), buf.Length());
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }

  // claimSignals([signum, ...]) -> [previous, ...] (see ClaimSignal)
  Napi::Value ClaimSignalsBinding(const Napi::CallbackInfo& info) {
    std::vector<int> previous;
    for (int signum : ToInts(info[0])) previous.push_back(ClaimSignal(signum));
    return FromInts(info.Env(), previous);
  }

  // takeRecordedSignals() -> [signum, ...] ascending
  Napi::Value TakeRecordedSignalsBinding(const Napi::CallbackInfo& info) { return FromInts(info.Env(), TakeRecordedSignals()); }

  // Calls the handler; what it throws is dropped. Through the C API, whose
  // failures are statuses: in a worker being terminated no JavaScript can run
  // and node-addon-api (C++ exceptions off) would make the failed call fatal
  // for the whole process.
  static void Deliver(void* arg, int signum) {
    auto* self = static_cast<Addon*>(arg);
    if (self->on_signal_.IsEmpty()) return;
    napi_env env = self->on_signal_.Env();
    Napi::HandleScope scope(env);
    napi_value global, argv[1], result;
    napi_get_global(env, &global);
    napi_create_int32(env, signum, &argv[0]);
    napi_make_callback(env, nullptr, global, self->on_signal_.Value(), 1, argv, &result);
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &result);
  }

  // The async cleanup hook: Node keeps the loop running until `finish`.
  static void CloseSignals(napi_async_cleanup_hook_handle handle, void* arg) {
    auto* self = static_cast<Addon*>(arg);
    self->cleanup_ = handle;
    self->signals_->CloseAll(
        [](void* a) {
          auto* addon = static_cast<Addon*>(a);
          delete addon->signals_;
          addon->signals_ = nullptr;
          napi_remove_async_cleanup_hook(addon->cleanup_);
        },
        self);
  }

  uv_loop_t* loop_ = nullptr;
  Napi::FunctionReference on_signal_;
  LoopSignals* signals_ = nullptr;
  napi_async_cleanup_hook_handle cleanup_ = nullptr;
  NonBlockingWriter writer_;
};

}  // namespace

NODE_API_ADDON(Addon)
